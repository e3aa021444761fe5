/**
 * The pipeline API (ci/src/api.ts) and a project's slipway.config.ts as the CLI loads it (ci/cli/config.ts):
 * assembling, removing, replacing and reordering stages, and each refusal before anything runs. Pure: no engine.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  builtins,
  definePipeline,
  forPreview,
  goldenPath,
  isPreviewRun,
  resolveStages,
  scanThreshold,
  stage,
  ttlSeconds,
  without,
} from "../src/api.ts";
import { freeSlot, previewSlug } from "../cli/previews.ts";
import { branchOf } from "../cli/git.ts";
import { PIPELINE, runDag, select, type StageRun } from "../src/dag.ts";
import { loadPipeline } from "../cli/config.ts";
import { tempDir } from "./helpers.ts";

const noop = async () => undefined;

describe("the pipeline API", () => {
  it("the golden path is Slipway's pipeline, stage for stage", () => {
    expect(resolveStages(goldenPath)).toEqual(PIPELINE);
  });

  it("adds a stage, and `before` makes the named stages wait for it", () => {
    const migrate = stage({ name: "migrate-staging", needs: ["verify"], before: ["deploy-staging"], run: noop });
    const e2e = stage({ name: "e2e", needs: ["smoke-staging"], before: ["deploy-production"], run: noop });
    const defs = resolveStages(definePipeline({ stages: [...goldenPath, migrate, e2e] }).stages);
    expect(defs.find((d) => d.name === "deploy-staging")!.after).toEqual(["migrate-staging"]);
    expect(defs.find((d) => d.name === "deploy-production")!.after).toEqual(["smoke-staging", "e2e"]);
    expect(defs.map((d) => d.name).slice(-2)).toEqual(["migrate-staging", "e2e"]);
  });

  it("removes a stage, and takes it out of the others' gates", () => {
    const defs = resolveStages(definePipeline({ stages: without(goldenPath, "integration") }).stages);
    expect(defs.map((d) => d.name)).not.toContain("integration");
    expect(defs.find((d) => d.name === "sign")!.after).toEqual(["lint", "typecheck", "test", "scan", "secrets"]);
  });

  it("replaces a built-in with a stage of the same name, and reorders by changing what a stage waits for", () => {
    const mine = stage({ name: "integration", after: ["test"], run: noop });
    const stages = without(goldenPath, "integration");
    stages.splice(3, 0, mine);
    const p = definePipeline({ stages: [...stages.map((s) => (s.name === "sign" ? { ...s, after: [...s.after, "integration"] } : s))] });
    const defs = resolveStages(p.stages);
    expect(defs[3]).toMatchObject({ name: "integration", after: ["test"] });
    expect(p.stages[3].run).toBe(mine.run);
    expect(defs.find((d) => d.name === "sign")!.after).toContain("integration");
  });

  it("refuses a duplicate, an unknown stage, a cycle, a bad name, a stage without run and a bad severity, each in one line", () => {
    const bad =
      (stages: Parameters<typeof definePipeline>[0]["stages"], extra = {}) =>
      () =>
        definePipeline({ stages, ...extra });
    expect(bad([...goldenPath, builtins.lint])).toThrow(/^two stages are named "lint": rename one/);
    expect(bad([...goldenPath, stage({ name: "e2e", needs: ["smoke-stagin"], run: noop })])).toThrow(
      /^stage "e2e" needs "smoke-stagin", which is not in the pipeline: the stages are lint, typecheck, /,
    );
    expect(bad([...goldenPath, stage({ name: "x", before: ["nope"], run: noop })])).toThrow(/^stage "x" runs before "nope", which is not/);
    expect(
      bad([
        stage({ name: "a", after: ["b"], run: noop }),
        stage({ name: "b", needs: ["c"], run: noop }),
        stage({ name: "c", after: ["a"], run: noop }),
      ]),
    ).toThrow("the stages wait for each other in a cycle: a -> b -> c -> a");
    expect(bad([stage({ name: "Bad Name", run: noop })])).toThrow(/^stage name "Bad Name" is not one/);
    expect(bad([{ name: "x", needs: [], after: [], before: [], about: "" }])).toThrow(/^stage "x" has no run function/);
    expect(bad(goldenPath, { scan: { failOn: "severe" } })).toThrow(
      /^scan\.failOn: "severe" is not a severity: use low, medium, high, critical$/,
    );
    expect(() => without(goldenPath, "lnt")).toThrow(/^without\("lnt"\): no such stage/);
    // a stage that uses a removed stage's output is named
    expect(bad(without(goldenPath, "build"))).toThrow(/^stage "sbom" needs "build", which is not in the pipeline/);
  });

  it("picks the scan threshold of the first branch pattern that matches, else the pipeline's, else the default", () => {
    const p = definePipeline({
      stages: goldenPath,
      scan: { failOn: "critical", branches: { main: { failOn: "medium" }, "release/*": { failOn: "low" } } },
    });
    expect(scanThreshold(p, "main", "high")).toBe("medium");
    expect(scanThreshold(p, "release/1.2", "high")).toBe("low");
    expect(scanThreshold(p, "feature/x", "high")).toBe("critical");
    expect(scanThreshold(definePipeline({ stages: goldenPath }), "main", "high")).toBe("high");
  });

  it("a stage waiting for a decision skips what needs it, and lets the rest finish", async () => {
    const order: string[] = [];
    const runs = await runDag(PIPELINE, select(PIPELINE), async (s): Promise<StageRun> => {
      order.push(s);
      return { stage: s, status: s === "approval" ? "waiting" : "passed", message: `${s}: ok`, seconds: 0, cached: null };
    });
    const by = Object.fromEntries(runs.map((r) => [r.stage, r]));
    expect(by.approval.status).toBe("waiting");
    expect(by["deploy-production"]).toMatchObject({ status: "skipped", message: "deploy-production: skipped (approval waiting)" });
    expect(by["smoke-production"].status).toBe("skipped");
    expect(by["smoke-staging"].status).toBe("passed");
    expect(order).not.toContain("deploy-production");
  });
});

describe("previews", () => {
  it("a branch other than main, master or a configured one deploys a preview; no branch counts as main; off is off", () => {
    const { previews } = definePipeline({ stages: goldenPath });
    expect(previews).toEqual({ enabled: true, main: ["main", "master"], ttl: "72h" });
    expect(["feature/x", "fix-1", "mainline"].map((b) => isPreviewRun(previews, b))).toEqual([true, true, true]);
    expect(["main", "master", ""].map((b) => isPreviewRun(previews, b))).toEqual([false, false, false]);
    const trunk = definePipeline({ stages: goldenPath, previews: { main: ["trunk", "release/*"], ttl: "2h" } }).previews;
    expect(["trunk", "release/1.2", "main"].map((b) => isPreviewRun(trunk, b))).toEqual([false, false, true]);
    expect(isPreviewRun(definePipeline({ stages: goldenPath, previews: false }).previews, "feature/x")).toBe(false);
  });

  it("the branch is the CI's name for it, else the work tree's; a detached checkout or no repository is none", async () => {
    const outside = tempDir("no-git");
    expect(await branchOf(outside, { GITHUB_HEAD_REF: "feature/x", GITHUB_REF_NAME: "1/merge" })).toBe("feature/x");
    expect(await branchOf(outside, { CI_COMMIT_REF_NAME: "release/1.2" })).toBe("release/1.2");
    expect(await branchOf(outside, { CI_COMMIT_REF_NAME: "HEAD" })).toBe("");
    expect(await branchOf(outside, {})).toBe("");
  });

  it("a TTL is a whole number of s, m, h or d; anything else is refused naming the setting", () => {
    expect([ttlSeconds("30s", "t"), ttlSeconds("15m", "t"), ttlSeconds("72h", "t"), ttlSeconds("7d", "t")]).toEqual([
      30, 900, 259200, 604800,
    ]);
    for (const bad of ["72", "1.5h", "0h", "-1d", "soon"])
      expect(() => ttlSeconds(bad, "--preview-ttl")).toThrow(`--preview-ttl: "${bad}" is not a time to live: write e.g. 30m, 72h or 7d`);
    expect(() => definePipeline({ stages: goldenPath, previews: { ttl: "3 days" } })).toThrow(/^previews\.ttl: "3 days" is not/);
    expect(() => definePipeline({ stages: goldenPath, previews: { main: "main" as never } })).toThrow(
      /^previews\.main: "main" is not a list/,
    );
  });

  it("a stage marked for previews waits for the preview where it waited for staging; the others are left as declared", () => {
    const migrate = stage({ name: "migrate", needs: ["verify"], before: ["deploy-staging"], previews: true, run: noop });
    const e2e = stage({ name: "e2e", needs: ["smoke-staging"], before: ["deploy-production"], previews: true, run: noop });
    const other = stage({ name: "notify", needs: ["smoke-staging"], run: noop });
    const defs = resolveStages(forPreview([...goldenPath, migrate, e2e, other]));
    const by = Object.fromEntries(defs.map((d) => [d.name, d]));
    expect(by["deploy-preview"].after).toEqual(["migrate"]);
    expect(by["deploy-staging"].after).toEqual([]);
    expect(by.e2e.needs).toEqual(["smoke-preview"]);
    expect(by.notify.needs).toEqual(["smoke-staging"]);
    expect(by["deploy-production"].after).toEqual(["smoke-staging", "e2e"]);
  });

  it("a branch's slug is a container name part that tells feature/x from feature-x; slots are the lowest free", () => {
    expect(previewSlug("feature/x")).toMatch(/^feature-x-[0-9a-f]{6}$/);
    expect(previewSlug("feature/x")).not.toBe(previewSlug("feature-x"));
    expect(previewSlug("Feature/Very_Long/Branch-Name-With.Many.Parts")).toMatch(/^feature-very-long-branch-[0-9a-f]{6}$/);
    expect(previewSlug("///")).toMatch(/^branch-[0-9a-f]{6}$/);
    expect([freeSlot([]), freeSlot([0, 1, 3]), freeSlot([1])]).toEqual([0, 2, 0]);
    expect(() => freeSlot([...Array(50).keys()])).toThrow(
      /all 50 preview slots are taken: remove some with `slipway preview down --branch B`/,
    );
  });
});

describe("slipway.config.ts", () => {
  const project = (config: string, files: Record<string, string> = {}) => {
    const dir = tempDir("config");
    writeFileSync(join(dir, "slipway.config.ts"), config);
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(join(dir, f, ".."), { recursive: true });
      writeFileSync(join(dir, f), text);
    }
    return dir;
  };

  it("no config: the golden path", async () => {
    expect(await loadPipeline(tempDir("config"))).toBeUndefined();
  });

  it("loads the team's stages, with their own imports, in the declared order", async () => {
    const dir = project(
      `import { definePipeline, goldenPath, stage, without } from "slipway";
import { journeys } from "./e2e/journeys.ts";
export default definePipeline({
  stages: [...without(goldenPath, "integration"), stage({ name: "e2e", needs: ["smoke-staging"], before: ["deploy-production"], run: async (ctx) => \`\${journeys.length} journeys on \${ctx.branch}\` })],
});
`,
      { "e2e/journeys.ts": `export const journeys: string[] = ["home", "notes"];\n` },
    );
    const p = (await loadPipeline(dir))!;
    expect(p.stages.map((s) => s.name)).toEqual([...PIPELINE.map((s) => s.name).filter((n) => n !== "integration"), "e2e"]);
    const e2e = p.stages.at(-1)!;
    expect(await e2e.run!({ branch: "main" } as never)).toBe("2 journeys on main");
  });

  it("refuses a type error with file:line:column before anything runs", async () => {
    const dir = project(`import { definePipeline, goldenPath, stage } from "slipway";
export default definePipeline({
  stages: [...goldenPath, stage({ name: "e2e", needs: "smoke-staging", run: async () => undefined })],
});
`);
    await expect(loadPipeline(dir)).rejects.toThrow(
      /^slipway\.config\.ts:3:48: Type 'string' is not assignable to type 'string\[\]'\. \(TS2322\)$/,
    );
  });

  it("refuses a cycle naming the stages (as an unknown stage: see definePipeline above), and a config without a pipeline", async () => {
    const cyclic = project(`import { definePipeline, stage } from "slipway";
export default definePipeline({ stages: [stage({ name: "a", after: ["b"], run: async () => undefined }), stage({ name: "b", after: ["a"], run: async () => undefined })] });
`);
    await expect(loadPipeline(cyclic)).rejects.toThrow("slipway.config.ts: the stages wait for each other in a cycle: a -> b -> a");
    const none = project(`export default { stages: [] };\n`);
    await expect(loadPipeline(none)).rejects.toThrow("slipway.config.ts must `export default definePipeline({ stages: [...] })`");
  });
});
