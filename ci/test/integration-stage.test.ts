/**
 * The integration stage on the real engine: Testcontainers inside the stage starts a real PostgreSQL on a Docker
 * engine service, through the slipway CLI as a user runs it.
 */
import { CacheSharingMode, connection, dag } from "@dagger.io/dagger";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { describe, expect, it } from "vitest";
import { IMAGE_STORE } from "../../modules/testcontainers/src/index.ts";
import { ENGINE_CONTAINER } from "../platform/engine.ts";
import { copyWith, EXAMPLE, slipway, tempDir } from "./helpers.ts";

interface DockerReport {
  containers: { name: string; image: string; log: string }[];
  pulled: string[];
  leftovers: number;
}
const dockerReport = (reports: string): DockerReport => JSON.parse(readFileSync(join(reports, "integration/docker.json"), "utf8"));

/** Processes of a Docker engine or of its containers still alive inside the Dagger engine. */
async function leftoverProcesses(): Promise<string[]> {
  // processes come and go while /proc is read: cat may miss some and exit 1
  const r = await $`docker exec ${ENGINE_CONTAINER} sh -c ${"cat /proc/[0-9]*/comm 2>/dev/null; true"}`;
  return r.stdout.split("\n").filter((p) => /^(dockerd|containerd|containerd-shim.*|postgres|docker-proxy)$/.test(p));
}

/** Empties the image store of the stage's Docker engine, as on a machine that never ran the stage. */
async function emptyImageStore(): Promise<void> {
  await connection(async () => {
    await dag
      .container()
      .from("debian:bookworm-slim")
      .withMountedCache("/store", dag.cacheVolume(IMAGE_STORE), { sharing: CacheSharingMode.Locked })
      .withEnvVariable("RUN", String(Date.now()))
      .withExec(["sh", "-c", "rm -rf /store/* && ls -A /store | wc -l"])
      .sync();
  });
}

describe("slipway integration", () => {
  it("passes on the example against a real PostgreSQL, pulls it once, and leaves nothing running", async () => {
    await emptyImageStore();
    const first = tempDir("reports");
    const r1 = await slipway("integration", "--source", EXAMPLE, "--reports", first, "--no-cache");
    expect(r1.out).toMatch(
      /^integration: passed \(3 tests, 0 failed, 0 skipped; 1 container \(logs in containers\/\), pulled: postgres:15\)/m,
    );
    expect(r1.code).toBe(0);
    const junit = readFileSync(join(first, "integration/junit.xml"), "utf8");
    expect(junit).toMatch(/<testcase[^>]*name="notes API on PostgreSQL &gt; stores a note and lists it"/);
    const d1 = dockerReport(first);
    expect(d1.pulled).toEqual(["postgres:15"]);
    expect(d1.leftovers).toBe(0);
    // the PostgreSQL the tests talked to really ran: its log is in the report
    expect(readFileSync(join(first, "integration", d1.containers[0].log), "utf8")).toMatch(
      /database system is ready to accept connections/,
    );
    expect(await leftoverProcesses()).toEqual([]);

    const second = tempDir("reports");
    const r2 = await slipway("integration", "--source", EXAMPLE, "--reports", second, "--no-cache");
    expect(r2.code).toBe(0);
    const d2 = dockerReport(second);
    expect(d2.containers.map((c) => c.image)).toEqual(["postgres:15"]);
    expect(d2.pulled).toEqual([]); // from the engine's own pull events during the run
    expect(d2.leftovers).toBe(0);
    expect(await leftoverProcesses()).toEqual([]);
  });

  it("a broken query fails the stage with the failing test's name and attaches the database's log", async () => {
    const src = copyWith("src/notes.ts", (t) =>
      t.replace("SELECT id, text, created_at FROM notes", "SELECT id, text, created_at FROM note"),
    );
    const reports = tempDir("reports");
    const r = await slipway("integration", "--source", src, "--reports", reports);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^integration: failed \(3 tests, 1 failed, 0 skipped; 1 container \(logs in containers\/\), pulled: none\): test\/integration\/api\.test\.ts > notes API on PostgreSQL > stores a note and lists it/m,
    );
    const d = dockerReport(reports);
    expect(d.leftovers).toBe(0);
    expect(readdirSync(join(reports, "integration/containers"))).toHaveLength(1);
    expect(readFileSync(join(reports, "integration", d.containers[0].log), "utf8")).toMatch(/ERROR:\s+relation "note" does not exist/);
    expect(await leftoverProcesses()).toEqual([]);
  });

  it("reports not-configured when the project has no integration script", async () => {
    const src = copyWith("package.json", (t) => t.replace(/,\n\s*"test:integration": "[^"]*"/, ""));
    const r = await slipway("integration", "--source", src);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^integration: not configured \(no "test:integration", "integration", "test:e2e" script\)/m);
  });
});
