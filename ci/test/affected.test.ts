/**
 * Affected-only runs on examples/monorepo (npm workspaces: api depends on core, util stands alone) and on the
 * pnpm workspace fixture (the same shape, members in pnpm-workspace.yaml, api on core through workspace:*): the
 * pure package selection, then `slipway pipeline --affected-since` end to end, asserted from the run report.
 */
import { cpSync, readFileSync, appendFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { describe, expect, it } from "vitest";
import { affectedPackages, workspacePackages } from "../cli/affected.ts";
import { ROOT, slipway, tempDir } from "./helpers.ts";

const MONOREPO = join(ROOT, "examples/monorepo");
const PNPM_WORKSPACE = join(ROOT, "ci/test/fixtures/pnpm-workspace");

describe("affected packages", () => {
  const packages = workspacePackages(MONOREPO);

  it("reads the workspace and its internal dependencies", () => {
    expect(packages).toEqual([
      { dir: "packages/api", name: "@monorepo/api", deps: ["@monorepo/core"] },
      { dir: "packages/core", name: "@monorepo/core", deps: [] },
      { dir: "packages/util", name: "@monorepo/util", deps: [] },
    ]);
  });

  it("a change selects its package and the packages depending on it; a shared file selects all", () => {
    expect(Object.fromEntries(affectedPackages(packages, ["packages/core/src/index.ts"]))).toEqual({
      "packages/core": "changed: packages/core/src/index.ts",
      "packages/api": "depends on @monorepo/core",
    });
    expect([...affectedPackages(packages, ["packages/util/test/index.test.ts"]).keys()]).toEqual(["packages/util"]);
    expect(affectedPackages(packages, ["package-lock.json"]).size).toBe(3);
    expect(affectedPackages(packages, []).size).toBe(0);
  });
});

interface AffectedReport {
  affected: { packages: Record<string, string> };
  stages: { stage: string; status: string }[];
}

/**
 * A git copy of the workspace with one more commit appending a line to `changed`, then `slipway pipeline
 * --affected-since HEAD~1` on it: the copy, the run and its report.
 */
async function runAfterChange(workspace: string, changed: string, line: string) {
  const repo = tempDir("workspace");
  cpSync(workspace, repo, { recursive: true, filter: (src) => !/node_modules|reports/.test(src.slice(workspace.length)) });
  const git = $({ cwd: repo, quiet: true });
  await git`git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm base`;
  appendFileSync(join(repo, changed), `\n${line}\n`);
  await git`git -c user.name=t -c user.email=t@t commit -qam change`;
  const reports = tempDir("reports");
  const r = await slipway("pipeline", "--source", repo, "--affected-since", "HEAD~1", "--reports", reports);
  expect(r.code, r.out).toBe(0);
  return { repo, reports, r, rep: JSON.parse(readFileSync(join(reports, "pipeline.json"), "utf8")) as AffectedReport };
}

describe("slipway pipeline --affected-since", () => {
  it("runs only the changed package's and its dependents' stages", async () => {
    const { repo, reports, rep } = await runAfterChange(MONOREPO, "packages/core/src/index.ts", 'export const CURRENCY = "USD";');
    expect(rep.affected.packages).toEqual({
      "packages/core": "changed: packages/core/src/index.ts",
      "packages/api": "depends on @monorepo/core",
    });
    const ran = rep.stages
      .filter((s) => s.status !== "skipped")
      .map((s) => s.stage)
      .sort();
    expect(ran).toEqual([
      "lint:packages/api",
      "lint:packages/core",
      "test:packages/api",
      "test:packages/core",
      "typecheck:packages/api",
      "typecheck:packages/core",
    ]);
    expect(rep.stages.filter((s) => s.stage.endsWith("packages/util")).map((s) => s.status)).toEqual(["skipped", "skipped", "skipped"]);

    // a change to the standalone package runs it alone; an unknown ref is refused with the fix
    appendFileSync(join(repo, "packages/util/src/index.ts"), "\nexport const MAX_CHUNK = 1000;\n");
    const only = await slipway("pipeline", "--source", repo, "--affected-since", "HEAD", "--reports", reports);
    expect(only.code, only.out).toBe(0);
    const rep2 = JSON.parse(readFileSync(join(reports, "pipeline.json"), "utf8")) as AffectedReport;
    expect(
      rep2.stages
        .filter((s) => s.status !== "skipped")
        .map((s) => s.stage)
        .sort(),
    ).toEqual(["lint:packages/util", "test:packages/util", "typecheck:packages/util"]);
    const bad = await slipway("pipeline", "--source", repo, "--affected-since", "no-such-ref");
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(
      /^slipway: --affected-since no-such-ref: no such commit in .*: fetch it \(git fetch origin no-such-ref\) or pass a SHA$/m,
    );
  });
});

describe("pnpm workspaces", () => {
  it("reads the members from pnpm-workspace.yaml, exclusions dropped, workspace: dependencies followed", () => {
    expect(workspacePackages(PNPM_WORKSPACE)).toEqual([
      { dir: "packages/api", name: "@ws/api", deps: ["@ws/core"] },
      { dir: "packages/core", name: "@ws/core", deps: [] },
      { dir: "packages/util", name: "@ws/util", deps: [] },
    ]);
  });

  it("slipway pipeline --affected-since tests the changed package and its dependents, installed with pnpm", async () => {
    const { r, rep } = await runAfterChange(PNPM_WORKSPACE, "packages/core/index.js", 'export const CURRENCY = "USD";');
    expect(rep.affected.packages).toEqual({ "packages/core": "changed: packages/core/index.js", "packages/api": "depends on @ws/core" });
    const status = Object.fromEntries(rep.stages.map((s) => [s.stage, s.status]));
    // the tests ran (api imports core through pnpm's workspace link); lint and typecheck are not configured here
    expect(status["test:packages/api"], r.out).toBe("passed");
    expect(status["test:packages/core"], r.out).toBe("passed");
    expect(status["test:packages/util"]).toBe("skipped");
  });
});
