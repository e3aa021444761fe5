/**
 * `slipway pipeline` end to end on the real engine, the local registry and the local targets: every stage on the
 * example with the embedded defaults and the reports a CI reads; a failing stage stops the later gates and the
 * report names it and why; --until and --skip.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PIPELINE } from "../src/dag.ts";
import { copyWith, EXAMPLE, slipway, tempDir } from "./helpers.ts";

interface Report {
  status: string;
  failure?: { stage: string; message: string };
  stages: { stage: string; status: string; message: string; cached: boolean | null }[];
}
const read = (dir: string) => JSON.parse(readFileSync(join(dir, "pipeline.json"), "utf8")) as Report;

describe("slipway pipeline", () => {
  it("runs every stage on the example with the embedded defaults and writes the run report", async () => {
    const reports = tempDir("pipeline");
    const r = await slipway("pipeline", "--source", EXAMPLE, "--reports", reports, "--approve");
    expect(r.code, r.out).toBe(0);
    const rep = read(reports);
    expect(rep.stages.map((s) => s.stage)).toEqual(PIPELINE.map((s) => s.name));
    // on main every stage passes but the preview's two, which are for other branches
    expect(
      rep.stages.filter((s) => s.status !== "passed").map((s) => `${s.stage} ${s.status}`),
      r.out,
    ).toEqual(["deploy-preview skipped", "smoke-preview skipped"]);
    expect(rep.stages.find((s) => s.stage === "deploy-preview")!.message).toMatch(
      /^deploy-preview: skipped \((branch main|a run on no branch) deploys to staging and production; previews are for other branches\)$/,
    );
    // the same commit deployed before leaves production as it is
    expect(r.out).toMatch(
      /^\| deploy-production \| ✅ passed \| [\d.]+ s \| - \| deploy production: (passed, \S+ live in the (blue|green) slot \(canary|unchanged, \S+ is already live)/m,
    );
    expect(r.out).toMatch(/^passed in [\d.]+s; reports in /m);
    const md = readFileSync(join(reports, "pipeline.md"), "utf8");
    expect(md).toMatch(/^## Slipway pipeline: ✅ passed/);
    const junit = readFileSync(join(reports, "junit.xml"), "utf8");
    expect(junit).toContain('<testsuite name="slipway.pipeline" tests="17" failures="0" skipped="2">');
    expect(junit).toMatch(/<testsuite name="[^"]*notes[^"]*"/); // the example's unit tests, merged in
    for (const f of [
      "test/junit.xml",
      "integration/junit.xml",
      "sbom/sbom.cdx.json",
      "scan/trivy-image.sarif",
      "deploy-staging/deploy.json",
      "smoke-production/junit.xml",
    ]) {
      expect(readFileSync(join(reports, f), "utf8").length, f).toBeGreaterThan(0);
    }
    // the second run, nothing changed: the code stages come from the engine's cache
    const again = tempDir("pipeline");
    const r2 = await slipway("pipeline", "--source", EXAMPLE, "--reports", again, "--until", "integration");
    expect(r2.code, r2.out).toBe(0);
    expect(
      read(again)
        .stages.filter((s) => ["lint", "typecheck", "test", "integration"].includes(s.stage))
        .map((s) => s.cached),
    ).toEqual([true, true, true, true]);
  });

  it("a failing stage stops the later gates; the report names the stage and the reason", async () => {
    const src = copyWith("test/unit/notes.test.ts", (t) => t.replace('toBe("hello")', 'toBe("hello!")'));
    const reports = tempDir("pipeline");
    const r = await slipway("pipeline", "--source", src, "--reports", reports, "--until", "verify", "--allow-no-commit");
    expect(r.code).toBe(1);
    const rep = read(reports);
    expect(rep.failure?.stage).toBe("test");
    expect(rep.failure?.message).toMatch(/^test: failed \(\d+ tests, 1 failed, 0 skipped\): /);
    const by = Object.fromEntries(rep.stages.map((s) => [s.stage, s]));
    expect(by.integration.message).toBe("integration: skipped (test failed)");
    expect(by.sign.message).toBe("sign: skipped (test failed)");
    expect(by.verify.status).toBe("skipped");
    expect(r.out).toMatch(/^failed at test: test: failed/m);
    expect(readFileSync(join(reports, "pipeline.md"), "utf8")).toMatch(/^## Slipway pipeline: ❌ failed at \*\*test\*\*/);
  });

  it("--until and --skip choose the stages; an unknown stage is refused naming the stages", async () => {
    const reports = tempDir("pipeline");
    const r = await slipway("pipeline", "--source", EXAMPLE, "--reports", reports, "--until", "typecheck", "--skip", "lint");
    expect(r.code, r.out).toBe(0);
    const ran = read(reports)
      .stages.filter((s) => s.status !== "skipped")
      .map((s) => s.stage);
    expect(ran).toEqual(["typecheck"]);
    const bad = await slipway("pipeline", "--source", EXAMPLE, "--until", "deploy");
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/^slipway: --until deploy: no such stage; stages are lint, typecheck, test, integration, build, /m);
  });
});
