/** The pipeline DAG's pure logic: selection, ordering, gates and the report formats. */
import { describe, expect, it } from "vitest";
import { type Finding, markdown, mergedJunit, PIPELINE, report, runDag, select, type StageRun, stillRunning } from "../src/dag.ts";

const ok = (stage: string): StageRun => ({ stage, status: "passed", message: `${stage}: passed`, seconds: 1, cached: false });

describe("pipeline DAG", () => {
  it("--until takes a stage and everything it waits for; --skip removes stages; unknown names are refused", () => {
    expect([...select(PIPELINE, "integration")].sort()).toEqual(["integration", "lint", "test", "typecheck"]);
    expect(select(PIPELINE, "verify").has("deploy-staging")).toBe(false);
    expect(select(PIPELINE, undefined, ["integration"]).has("integration")).toBe(false);
    expect(() => select(PIPELINE, "deploy")).toThrow("--until deploy: no such stage; stages are lint, typecheck, test, integration, build");
    expect(() => select(PIPELINE, undefined, ["lnt"])).toThrow("--skip lnt: no such stage");
  });

  it("runs a stage only after its needs and gates; a failure skips what comes after it, running stages finish", async () => {
    const order: string[] = [];
    const runs = await runDag(PIPELINE, select(PIPELINE), async (stage) => {
      order.push(stage);
      await new Promise((r) => setTimeout(r, stage === "build" ? 30 : 5));
      return stage === "test" ? { ...ok(stage), status: "failed", message: "test: failed (1 failed): adds" } : ok(stage);
    });
    const by = Object.fromEntries(runs.map((r) => [r.stage, r]));
    // the stages that wait for nothing start together, before any has finished
    expect(order.slice(0, 5).sort()).toEqual(["build", "lint", "secrets", "test", "typecheck"]);
    expect(order.indexOf("integration")).toBe(-1);
    expect(by.integration.message).toBe("integration: skipped (test failed)");
    expect(by.sign.status).toBe("skipped");
    expect(by.verify.message).toBe("verify: skipped (sign skipped)");
    expect(by["deploy-production"].status).toBe("skipped");
    // independent of the failure: they ran to the end
    expect([by.build.status, by.sbom.status, by.scan.status, by.secrets.status]).toEqual(["passed", "passed", "passed", "passed"]);
  });

  it("a skipped gate lets later stages run; a skipped need skips them", async () => {
    const chosen = select(PIPELINE, "verify", ["integration", "sbom"]);
    const runs = await runDag(PIPELINE, chosen, async (stage) => ok(stage));
    const by = Object.fromEntries(runs.map((r) => [r.stage, r]));
    expect(by.scan.status).toBe("passed");
    expect(by.sign.message).toBe("sign: skipped (sbom was not selected)");
  });

  it("reports: Markdown table with outcome, time and cache; JUnit merging the stages' suites", () => {
    const runs: StageRun[] = [
      { ...ok("lint"), cached: true },
      {
        ...ok("test"),
        junit:
          '<?xml version="1.0"?>\n<testsuites>\n<testsuite name="unit" tests="2" failures="1"><testcase name="a"/><testcase name="b"><failure/></testcase></testsuite>\n</testsuites>',
      },
      { stage: "sign", status: "failed", message: "sign: failed, no key | really", seconds: 2.5, cached: null },
    ];
    const r = report({ source: "/src", revision: "0123456789abcdef", started: new Date(Date.now() - 5000), runs });
    expect(r.failure).toEqual({ stage: "sign", message: "sign: failed, no key | really" });
    const md = markdown(r);
    expect(md).toContain("## Slipway pipeline: ❌ failed at **sign**");
    expect(md).toContain("| lint | ✅ passed | 1.0 s | hit | lint: passed |");
    expect(md).toContain("| sign | ❌ failed | 2.5 s | - | sign: failed, no key \\| really |");
    const xml = mergedJunit(runs);
    expect(xml).toContain('<testsuites name="slipway" tests="5" failures="2">');
    expect(xml).toContain('<testsuite name="unit" tests="2" failures="1">');
    expect(xml).toContain('<testcase classname="slipway.pipeline" name="sign" time="2.500">');
  });

  it("pipeline.json carries each stage's findings, not its JUnit", () => {
    const secret: Finding = {
      file: "config/app.env",
      line: 3,
      column: 1,
      rule: "generic-api-key",
      severity: "error",
      message: "a secret (generic-api-key), value redacted",
    };
    const runs: StageRun[] = [
      { ...ok("lint"), findings: [] },
      { stage: "secrets", status: "failed", message: "secrets: failed", seconds: 1, cached: null, findings: [secret], junit: "<x/>" },
    ];
    const json = JSON.parse(JSON.stringify(report({ source: "/src", revision: "", started: new Date(), runs })));
    expect(json.stages.map((s: StageRun) => s.findings)).toEqual([[], [secret]]);
    expect(json.stages[1].junit).toBeUndefined();
  });
});

describe("GitHub annotations", () => {
  const finding = (f: Partial<Finding>): Finding => ({ file: "", line: 0, column: 0, rule: "", severity: "error", message: "", ...f });

  it("one error per finding of a failed stage, at its file, line and column when it has them", async () => {
    const { annotations } = await import("../src/dag.ts");
    const lint: StageRun = {
      stage: "lint",
      status: "failed",
      seconds: 1,
      cached: false,
      message:
        "lint: failed, 2 error(s): src/config.ts:17:7 'unusedValue' is assigned a value but never used (@typescript-eslint/no-unused-vars); ...",
      findings: [
        finding({
          file: "src/config.ts",
          line: 17,
          column: 7,
          rule: "@typescript-eslint/no-unused-vars",
          message: "'unusedValue' is assigned a value but never used",
        }),
        finding({ file: "src/app, v2.ts", line: 3, rule: "TS2322", message: "Type 'string' is not assignable to type 'number'.\n100%" }),
      ],
    };
    expect(annotations(lint)).toEqual([
      "::error file=src/config.ts,line=17,col=7,title=slipway lint%3A @typescript-eslint/no-unused-vars::'unusedValue' is assigned a value but never used",
      "::error file=src/app%2C v2.ts,line=3,title=slipway lint%3A TS2322::Type 'string' is not assignable to type 'number'.%0A100%25",
    ]);
    // a failing test: its file, no line; the message is not parsed for locations
    const test: StageRun = {
      ...lint,
      stage: "test",
      message: "test: failed (7 tests, 1 failed, 0 skipped): test/unit/notes.test.ts > validateText > trims text",
      findings: [finding({ file: "test/unit/notes.test.ts", message: "test/unit/notes.test.ts > validateText > trims text failed" })],
    };
    expect(annotations(test)).toEqual([
      "::error file=test/unit/notes.test.ts,title=slipway test::test/unit/notes.test.ts > validateText > trims text failed",
    ]);
    // a vulnerable package of the image: in no file
    const scan: StageRun = {
      ...lint,
      stage: "scan",
      message: "scan: failed, 1 finding(s): ...",
      findings: [
        finding({
          rule: "CVE-2021-23337",
          severity: "high",
          message: "lodash 4.17.20: CVE-2021-23337, high, fixed in 4.17.21, in the image",
        }),
      ],
    };
    expect(annotations(scan)).toEqual([
      "::error title=slipway scan%3A CVE-2021-23337::lodash 4.17.20: CVE-2021-23337, high, fixed in 4.17.21, in the image",
    ]);
  });

  it("a failed stage without findings gets one error with its message; a passed one none", async () => {
    const { annotations } = await import("../src/dag.ts");
    const verify: StageRun = {
      stage: "verify",
      status: "failed",
      seconds: 1,
      cached: null,
      message: "verify: failed, no valid signature for r/app@sha256:1 with this key: src/app.ts:3 is not parsed",
    };
    expect(annotations(verify)).toEqual([
      "::error title=slipway verify::verify: failed, no valid signature for r/app@sha256:1 with this key: src/app.ts:3 is not parsed",
    ]);
    expect(annotations({ ...verify, findings: [] })).toHaveLength(1);
    expect(annotations({ ...verify, status: "passed", findings: [finding({ message: "x" })] })).toEqual([]);
  });
});

it("names the stages still running and for how long", () => {
  const now = 1_000_000;
  expect(
    stillRunning(
      new Map([
        ["scan", now - 70_000],
        ["sbom", now - 50_400],
      ]),
      now,
    ),
  ).toBe("still running: scan 1m 10s, sbom 50s");
});
