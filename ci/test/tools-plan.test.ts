/**
 * Which images are tools (built after the engine, in the background), which stage needs which, the order the
 * builder takes them in, and what a stage waiting for one prints. Pure: no engine, no registry, no processes.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { catalog } from "../platform/images/catalog.ts";
import { BASE_IMAGES, GO_TOOLS } from "../platform/versions.ts";
import { PIPELINE } from "../src/dag.ts";
import {
  ago,
  type BuilderState,
  builderSummary,
  CORE_RECIPES,
  isToolRecipe,
  nextTool,
  STAGE_TOOLS,
  stageTools,
  TOOL_IMAGES,
  waitForTools,
  waitLine,
} from "../platform/tools.ts";

afterEach(() => {
  vi.useRealTimers();
});

describe("tool images", () => {
  it("are the Go tool recipes of the catalog, by data: every GO_TOOLS image the catalog makes, and nothing the engine needs", () => {
    const made = new Set(catalog.map((r) => r.refs[0]));
    const goTools = Object.entries(GO_TOOLS)
      .filter(([, spec]) => made.has(spec.image))
      .map(([name]) => name);
    expect(TOOL_IMAGES.map((t) => t.name).sort()).toEqual(goTools.sort());
    expect(TOOL_IMAGES.map((t) => t.name)).toEqual(
      expect.arrayContaining(["cosign", "syft", "gitleaks", "osv-scanner", "trivy", "trivy-db", "actionlint"]),
    );
    for (const t of TOOL_IMAGES) expect(t.recipe.refs[0]).toBe(GO_TOOLS[t.name as keyof typeof GO_TOOLS].image);
    const core = CORE_RECIPES.map((r) => r.refs[0]);
    expect(core).toEqual(
      expect.arrayContaining([
        "registry.dagger.io/engine:v0.19.10",
        "debian:bookworm-slim",
        "node:22",
        "docker:20.10-dind",
        "postgres:15",
        "haproxy:2.6",
      ]),
    );
    expect(CORE_RECIPES.filter(isToolRecipe)).toEqual([]);
    expect(CORE_RECIPES.length + TOOL_IMAGES.length).toBe(catalog.length);
  });

  it("every image the pin table names is one the mirror serves (the modules run these by default)", () => {
    const served = new Set(catalog.flatMap((r) => r.refs));
    for (const [name, image] of Object.entries(BASE_IMAGES)) expect(served.has(image), `${name}: ${image}`).toBe(true);
    for (const [name, tool] of Object.entries(GO_TOOLS)) expect(served.has(tool.image), `${name}: ${tool.image}`).toBe(true);
  });

  it("each stage needs the images its module runs, and only tools the catalog makes", () => {
    const names = new Set(TOOL_IMAGES.map((t) => t.name));
    const stages = new Set(PIPELINE.map((s) => s.name));
    for (const [stage, tools] of Object.entries(STAGE_TOOLS)) {
      expect(stages.has(stage), stage).toBe(true);
      for (const t of tools) expect(names.has(t), `${stage}: ${t}`).toBe(true);
    }
    expect(stageTools("lint")).toEqual([]);
    expect(stageTools("test")).toEqual([]);
    expect(stageTools("integration")).toEqual([]);
    expect(stageTools("sbom")).toEqual(["syft"]);
    expect(stageTools("secrets")).toEqual(["gitleaks"]);
    for (const s of ["sign", "verify", "deploy-staging", "deploy-production", "deploy-preview"]) expect(stageTools(s)).toEqual(["cosign"]);
    expect(stageTools("smoke-staging")).toEqual([]);
  });

  it("scan: Trivy, with trivy-db when the advisories are not a built database; OSV-Scanner alone", () => {
    const advisories = mkdtempSync(join(tmpdir(), "slipway-advisories-"));
    const built = mkdtempSync(join(tmpdir(), "slipway-trivydb-"));
    mkdirSync(join(built, "db"));
    writeFileSync(join(built, "db", "trivy.db"), "");
    expect(STAGE_TOOLS.scan).toEqual(["trivy", "trivy-db"]);
    expect(stageTools("scan", { scanner: "trivy", vulnDb: advisories })).toEqual(["trivy", "trivy-db"]);
    expect(stageTools("scan", { scanner: "trivy", vulnDb: built })).toEqual(["trivy"]);
    expect(stageTools("scan", { scanner: "trivy" })).toEqual(["trivy"]);
    expect(stageTools("scan", { scanner: "osv-scanner", vulnDb: advisories })).toEqual(["osv-scanner"]);
  });

  it("the builder takes what a waiter wants first, then the pipeline's order, then the rest", () => {
    expect(nextTool([])).toBeUndefined();
    expect(nextTool(["actionlint", "trivy", "cosign", "gitleaks"])).toBe("gitleaks");
    expect(nextTool(["cosign", "syft", "regctl"])).toBe("regctl"); // build needs it right after the code stages
    expect(nextTool(["actionlint", "trivy", "syft"])).toBe("syft");
    expect(nextTool(["actionlint", "trivy", "syft"], ["trivy"])).toBe("trivy");
    expect(nextTool(["actionlint", "osv-scanner"])).toBe("osv-scanner"); // catalog order among the rest
    expect(nextTool(["actionlint"], ["syft"])).toBe("actionlint");
  });
});

describe("waiting lines", () => {
  const t0 = Date.parse("2026-01-01T10:00:00Z");
  it("say what is built and for how long", () => {
    expect(ago(0)).toBe("0s");
    expect(ago(59.4)).toBe("59s");
    expect(ago(61)).toBe("1 min");
    expect(ago(6 * 60 + 59)).toBe("6 min");
    expect(waitLine(["trivy"], { tool: "trivy", since: t0 }, t0 + 6 * 60_000 + 10_000, t0 + 60_000)).toBe(
      "waiting for trivy (building, 6 min so far)",
    );
    expect(waitLine(["trivy", "trivy-db"], { tool: "trivy", since: t0 }, t0 + 45_000, t0)).toBe(
      "waiting for trivy, trivy-db (building trivy, 45s so far)",
    );
    expect(waitLine(["trivy"], { tool: "syft", since: t0 }, t0 + 120_000, t0)).toBe(
      "waiting for trivy (the tool builder is on syft first; waited 2 min so far)",
    );
    expect(waitLine(["syft"], undefined, t0 + 1000, t0)).toBe("waiting for syft (starting the tool builder; waited 1s so far)");
    expect(waitLine(["syft"], { tool: "cosign", since: t0, foreground: true }, t0 + 1000, t0)).toBe(
      "waiting for syft (`slipway engine up` is on cosign first; waited 1s so far)",
    );
  });

  it("engine status: the builder at work, failed, stopped, idle", () => {
    const base: BuilderState = {
      pid: 42,
      mode: "background",
      started: new Date(t0).toISOString(),
      log: "/c/logs/tools.log",
      built: ["cosign"],
      failed: [],
    };
    const now = t0 + 7 * 60_000;
    expect(builderSummary({ ...base, current: { tool: "trivy", since: new Date(t0 + 60_000).toISOString() } }, true, now)).toBe(
      "building trivy (6 min so far), in the background, pid 42, since 7 min ago; built cosign; log /c/logs/tools.log",
    );
    expect(
      builderSummary(
        { ...base, failed: [{ tool: "trivy", problem: "x", fix: "y" }], finished: new Date(t0 + 60_000).toISOString() },
        false,
        now,
      ),
    ).toBe("last run failed on trivy (6 min ago); log /c/logs/tools.log");
    expect(builderSummary({ ...base, current: { tool: "syft", since: base.started } }, false, now)).toBe(
      "stopped while building syft (pid 42); log /c/logs/tools.log",
    );
    expect(builderSummary({ ...base, finished: new Date(t0 + 60_000).toISOString() }, false, now)).toBe(
      "idle (last run ended 6 min ago, built cosign)",
    );
    expect(builderSummary(undefined, false)).toBe("never ran");
  });
});

describe("waitForTools", () => {
  it("returns at once, silently, when the image is there", async () => {
    const lines: string[] = [];
    await waitForTools(["trivy"], (l) => lines.push(l), {
      io: {
        missing: async () => [],
        builderPid: () => {
          throw new Error("not asked");
        },
      },
    });
    expect(lines).toEqual([]);
  });

  it("starts the builder and says what it waits for at least every 25 s until the image is there", async () => {
    vi.useFakeTimers({ now: Date.parse("2026-01-01T10:00:00Z") });
    let starts = 0;
    let started: number | undefined;
    const buildMs = 95_000;
    const done = () => started !== undefined && Date.now() >= started + 1000 + buildMs;
    const lines: string[] = [];
    const wait = waitForTools(["trivy"], (l) => lines.push(l), {
      pollMs: 1000,
      io: {
        missing: async (tools) => (done() ? [] : tools.filter((t) => t.name === "trivy")),
        builderPid: () => (started !== undefined && !done() ? 7 : undefined),
        state: () =>
          started === undefined
            ? undefined
            : {
                pid: 7,
                mode: "background",
                started: new Date(started).toISOString(),
                log: "/c/tools.log",
                built: [],
                failed: [],
                ...(Date.now() >= started + 1000 ? { current: { tool: "trivy", since: new Date(started + 1000).toISOString() } } : {}),
              },
        start: () => {
          starts++;
          started = Date.now();
          return () => !done();
        },
        want: () => {},
      },
    });
    await vi.advanceTimersByTimeAsync(100_000);
    await wait;
    expect(starts).toBe(1);
    expect(lines).toEqual([
      "waiting for trivy (starting the tool builder; waited 0s so far)",
      "waiting for trivy (building, 0s so far)",
      "waiting for trivy (building, 24s so far)",
      "waiting for trivy (building, 48s so far)",
      "waiting for trivy (building, 1 min so far)",
      "trivy ready (waited 1 min)",
    ]);
  });

  it("fails with one line naming the tool, the cause and the log when the build fails", async () => {
    vi.useFakeTimers({ now: Date.parse("2026-01-01T10:00:00Z") });
    let started: number | undefined;
    const end = () => started !== undefined && Date.now() >= started + 5000;
    const lines: string[] = [];
    const wait = waitForTools(["trivy"], (l) => lines.push(l), {
      pollMs: 1000,
      io: {
        missing: async (tools) => tools.filter((t) => t.name === "trivy"),
        builderPid: () => (started !== undefined && !end() ? 7 : undefined),
        state: () =>
          started === undefined
            ? undefined
            : {
                pid: 7,
                mode: "background",
                started: new Date(started).toISOString(),
                log: "/c/logs/tools.log",
                built: [],
                failed: end()
                  ? [
                      {
                        tool: "trivy",
                        problem: "go build github.com/aquasecurity/trivy/cmd/trivy failed: killed",
                        fix: "check the Go module proxy",
                      },
                    ]
                  : [],
                ...(end()
                  ? { finished: new Date().toISOString() }
                  : { current: { tool: "trivy", since: new Date(started).toISOString() } }),
              },
        start: () => {
          started = Date.now();
          return () => !end();
        },
        want: () => {},
      },
    });
    const failed = expect(wait).rejects.toThrow(
      "tool image trivy (aquasec/trivy:0.74.0): its build failed: go build github.com/aquasecurity/trivy/cmd/trivy failed: killed " +
        "(fix: check the Go module proxy; log /c/logs/tools.log; rebuild with `slipway engine tools`)",
    );
    await vi.advanceTimersByTimeAsync(10_000);
    await failed;
    expect(lines).toEqual(["waiting for trivy (starting the tool builder; waited 0s so far)", "waiting for trivy (building, 1s so far)"]);
  });

  it("a new builder is not described by the last run's state (another pid, finished)", async () => {
    vi.useFakeTimers({ now: Date.parse("2026-01-01T10:00:00Z") });
    let ready = false;
    const lines: string[] = [];
    const last: BuilderState = {
      pid: 3,
      mode: "foreground",
      started: "2026-01-01T09:00:00Z",
      log: "(this terminal)",
      built: [],
      failed: [],
      current: { tool: "trivy", since: "2026-01-01T09:00:00Z" },
      finished: "2026-01-01T09:10:00Z",
    };
    const wait = waitForTools(["trivy"], (l) => lines.push(l), {
      pollMs: 1000,
      io: {
        missing: async (tools) => (ready ? [] : [...tools]),
        builderPid: () => 9,
        state: () => last,
        start: () => () => true,
        want: () => {},
      },
    });
    await vi.advanceTimersByTimeAsync(1500);
    ready = true;
    await vi.advanceTimersByTimeAsync(1500);
    await wait;
    expect(lines).toEqual(["waiting for trivy (starting the tool builder; waited 0s so far)", "trivy ready (waited 2s)"]);
  });

  it("refuses a tool the catalog does not make", async () => {
    await expect(waitForTools(["nope"], () => {})).rejects.toThrow(/^unknown tool image nope: the catalog has cosign, /);
  });
});
