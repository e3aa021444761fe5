/**
 * The tool images after the engine, for real: with one missing from the mirror (actionlint: its binary stays
 * cached, so a rebuild is an mmdebstrap and a push), `useEngine` returns in seconds and starts the background
 * builder, `waitForTools` says what it waits for until the image is back, and a failed build is reported in one
 * line with the log. Whatever it removes it puts back. (Never trivy or trivy-db: 16+ min to rebuild.)
 */
import { connection, dag } from "@dagger.io/dagger";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { useEngine } from "../platform/connection.ts";
import { engineAnswers } from "../platform/engine.ts";
import { paths, waitFor } from "../platform/host.ts";
import { imageReady, mirrorPath } from "../platform/images/build.ts";
import { actionlint } from "../platform/images/catalog.ts";
import { REGISTRY, registryAuthorization } from "../platform/registry.ts";
import { builderPid, readBuilderState, startToolBuilder, TOOLS_LOG, waitForTools } from "../platform/tools.ts";
import { DAGGER_VERSION, GO_TOOLS } from "../platform/versions.ts";
import { slipway } from "./helpers.ts";

const REF = actionlint.refs[0];
const MANIFESTS = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";

/** Deletes the image's manifest from the local registry (its blobs stay): the mirror no longer serves the tag. */
async function deleteFromMirror(ref: string): Promise<void> {
  const [repo, tag] = mirrorPath(ref).split(":");
  const head = await fetch(`http://${REGISTRY}/v2/${repo}/manifests/${tag}`, { method: "HEAD", headers: { Accept: MANIFESTS } });
  const digest = head.headers.get("docker-content-digest");
  expect(head.status, `${ref} in the mirror`).toBe(200);
  const del = await fetch(`http://${REGISTRY}/v2/${repo}/manifests/${digest}`, {
    method: "DELETE",
    headers: { Authorization: registryAuthorization() },
  });
  expect(del.status, `DELETE ${repo}@${digest}`).toBe(202);
  expect(await imageReady(actionlint)).toBe(false);
}

/** Waits for a builder another test or command started, so that each test starts from a quiet machine. */
async function noBuilder(): Promise<void> {
  await waitFor(async () => builderPid() === undefined, 900);
}

async function restore(): Promise<void> {
  delete process.env.SLIPWAY_DEBIAN_MIRROR;
  await noBuilder();
  if (await imageReady(actionlint)) return;
  await startToolBuilder(() => {});
  await waitForTools(["actionlint"], () => {});
}

describe("tool images in the background", () => {
  beforeAll(async () => {
    await noBuilder();
    expect(
      existsSync(join(paths.cache, "tools", `actionlint-${GO_TOOLS.actionlint.version}`, "actionlint")),
      "actionlint's binary cached",
    ).toBe(true);
    expect(await imageReady(actionlint), `${REF} ready before the test`).toBe(true);
  }, 900_000);

  afterAll(restore, 900_000);

  it("useEngine returns in seconds with a tool image missing; the builder brings it back while waitForTools says it waits", async () => {
    await deleteFromMirror(REF);
    const said: string[] = [];
    const write = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => (said.push(String(chunk)), true));
    const t0 = performance.now();
    try {
      await useEngine({ quiet: true, check: false });
    } finally {
      write.mockRestore();
    }
    const seconds = (performance.now() - t0) / 1000;
    process.stderr.write(`useEngine with ${REF} missing: ${seconds.toFixed(2)} s\n`);
    expect(seconds).toBeLessThan(10);
    expect(said.join("")).toContain(`slipway: building 1 tool image in the background (actionlint); log ${TOOLS_LOG}`);

    const lines: string[] = [];
    await waitForTools(["actionlint"], (l) => {
      lines.push(l);
      process.stderr.write(`  ${l}\n`);
    });
    expect(lines[0]).toMatch(/^waiting for actionlint \((starting the tool builder; waited|building,) \d+s so far\)$/);
    expect(lines).toContainEqual(expect.stringMatching(/^waiting for actionlint \(building, \d+s so far\)$/));
    expect(lines.at(-1)).toMatch(/^actionlint ready \(waited (\d+s|\d+ min)\)$/);
    expect(await imageReady(actionlint)).toBe(true);
    await noBuilder(); // it records what it built just after the push
    const state = readBuilderState()!;
    expect(state.built).toEqual(["actionlint"]);
    expect(state.finished ?? "").not.toBe("");
    expect(readFileSync(TOOLS_LOG, "utf8")).toContain("actionlint: done, pushed as rhysd/actionlint:1.7.12");

    // the engine pulls the rebuilt image through the mirror
    let version = "";
    await connection(async () => {
      version = await dag.container().from(REF).withExec(["actionlint", "-version"]).stdout();
    });
    expect(version).toContain(GO_TOOLS.actionlint.version.replace(/^v/, ""));
  }, 900_000);

  it("after `engine down`, useEngine has the engine answering in seconds though a tool image is missing", async () => {
    await noBuilder();
    await deleteFromMirror(REF);
    const down = await slipway("engine", "down");
    expect(down.code, down.out).toBe(0);
    const t0 = performance.now();
    await useEngine({ quiet: true, check: false });
    const seconds = (performance.now() - t0) / 1000;
    process.stderr.write(`useEngine after engine down, ${REF} missing: ${seconds.toFixed(1)} s to an answering engine\n`);
    expect(await engineAnswers()).toContain(DAGGER_VERSION);
    expect(seconds).toBeLessThan(60);
    expect(await imageReady(actionlint)).toBe(false); // not waited for: the background builder makes it
    const lines: string[] = [];
    await waitForTools(["actionlint"], (l) => lines.push(l));
    expect(lines.at(-1)).toMatch(/^actionlint ready/);
  }, 900_000);

  it("a failed background build reaches the waiter as one line naming the tool, the cause and the log", async () => {
    await noBuilder();
    await deleteFromMirror(REF);
    process.env.SLIPWAY_DEBIAN_MIRROR = "http://127.0.0.1:9/debian"; // nothing listens: mmdebstrap fails at once
    try {
      expect(await startToolBuilder(() => {})).toEqual(["actionlint"]);
      const lines: string[] = [];
      const err = await waitForTools(["actionlint"], (l) => lines.push(l)).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(
        new RegExp(
          `^tool image actionlint \\(rhysd/actionlint:1\\.7\\.12\\): its build failed: mmdebstrap failed: .*\\(fix: .*; log ${TOOLS_LOG.replace(/\//g, "\\/")}; rebuild with \`slipway engine tools\`\\)$`,
        ),
      );
      expect(err?.message).not.toContain("\n");
      expect(readBuilderState()!.failed.map((f) => f.tool)).toEqual(["actionlint"]);
    } finally {
      await restore();
    }
    expect(await imageReady(actionlint)).toBe(true);
  }, 900_000);
});
