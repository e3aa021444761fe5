/**
 * `slipway engine` as a user drives it: a warm `up` changes nothing, `down` stops what it started and keeps the
 * cache, and a step that cannot be done fails with one line naming the step and the fix.
 */
import { connection, dag } from "@dagger.io/dagger";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DAGGER_VERSION } from "../platform/versions.ts";

const CLI = join(import.meta.dirname, "../bin/slipway.js");

function slipway(args: string[], env: Record<string, string> = {}, user?: string) {
  const cmd = user
    ? ["setpriv", `--reuid=${user}`, `--regid=${user}`, "--clear-groups", process.execPath, CLI, ...args]
    : [process.execPath, CLI, ...args];
  const r = spawnSync(cmd[0], cmd.slice(1), { env: { ...process.env, ...env }, encoding: "utf8", timeout: 600_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function timestampedExec(nonce: string): Promise<string> {
  let out = "";
  await connection(async () => {
    out = await dag
      .container()
      .from("debian:bookworm-slim")
      .withEnvVariable("NONCE", nonce)
      .withExec(["sh", "-c", "sleep 3; date +%s%N"])
      .stdout();
  });
  return out;
}

describe("slipway engine", () => {
  it("up on a warm machine changes nothing", () => {
    const r = slipway(["engine", "up"]);
    expect(r.code).toBe(0);
    const steps = r.stderr.split("\n").filter((l) => /^\[\d+\/\d+\] .*: (ok|done),/.test(l));
    expect(steps.length).toBeGreaterThanOrEqual(6);
    expect(steps.filter((l) => !/: ok,/.test(l))).toEqual([]);
    // in the foreground, the tool images too, after the engine (module mode needs them all)
    const titles = steps.map((l) => /^\[\d+\/\d+\] (.*?): ok,/.exec(l)![1]);
    expect(titles.indexOf("Image aquasec/trivy:0.74.0")).toBeGreaterThan(titles.indexOf("Dagger engine"));
    expect(r.stderr).toMatch(/engine ready in [\d.]+s with every image, the tool images too/);
  });

  it("status reports the pinned version on the CLI and the engine", () => {
    const r = slipway(["engine", "status"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Dagger CLI\\s+dagger ${DAGGER_VERSION.replace(/\./g, "\\.")} `));
    expect(r.stdout).toMatch(new RegExp(`engine\\s+.*answers: ${DAGGER_VERSION.replace(/\./g, "\\.")}`));
    expect(r.stdout).toMatch(/^tool images\s+all \d+ ready$/m);
    expect(r.stdout).toMatch(/^tool builder\s+(never ran|idle|last run failed|building)/m);
  });

  it("down then up keeps the cache volume: a cached exec stays cached", async () => {
    const nonce = randomUUID();
    const before = await timestampedExec(nonce);

    const down = slipway(["engine", "down"]);
    let status: number | null;
    try {
      status = slipway(["engine", "status"]).code;
    } finally {
      // always up again: the test files after this one need the engine whatever happened here
      expect(slipway(["engine", "up"]).code).toBe(0);
    }
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/stopped: engine/);
    expect(status).not.toBe(0);
    expect(await timestampedExec(nonce)).toBe(before);
  });

  it("fails with one line naming the step and the fix when there is no disk for the build", () => {
    const cache = mkdtempSync(join(tmpdir(), "slipway-nodisk-"));
    expect(spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", cache]).status).toBe(0);
    let r;
    try {
      r = slipway(["engine", "up"], { SLIPWAY_CACHE: cache });
    } finally {
      spawnSync("umount", [cache]);
    }
    expect(r.code).toBe(1);
    const lines = r.stderr
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("slipway:"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^slipway: Dagger ${DAGGER_VERSION.replace(/\./g, "\\.")} binaries: .* GiB free under ${cache}, 6 GiB needed \\(fix: .*SLIPWAY_CACHE`,
      ),
    );
  });

  it("fails with one line naming the step and the fix when not root", () => {
    const cache = mkdtempSync(join(tmpdir(), "slipway-noroot-"));
    spawnSync("chmod", ["777", cache]);
    const r = slipway(["engine", "up"], { SLIPWAY_CACHE: cache, HOME: cache }, "65534");
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n").pop()).toMatch(
      /^slipway: Docker engine: installing and starting the Docker engine needs root \(fix: rerun as root/,
    );
  });
});
