/**
 * The pipeline's DAG: which stage waits for which, what --until and --skip leave to run, running the stages as
 * soon as what they wait for has passed, and the run report (Markdown, JSON, merged JUnit).
 *
 * `needs`: stages whose output this one uses (skipping one skips this one too). `after`: gates, stages that must
 * not have failed (a skipped gate lets it run). A failure skips everything downstream; stages already running
 * finish.
 */

export interface StageDef {
  name: string;
  needs: string[];
  after: string[];
  /** a one-line description for --help */
  about: string;
}

/** waiting: a stage that stopped the run for a decision (the approval before production); what needs it is skipped */
export type Outcome = "passed" | "failed" | "skipped" | "not-configured" | "waiting";

export interface StageRun {
  stage: string;
  status: Outcome;
  message: string;
  seconds: number;
  /** when it started, in seconds from the run's start (the order stages ran in); unset when it did not run */
  startedAt?: number;
  /** true: served from the engine's cache; false: ran; null: never cached (side effects) or not known */
  cached: boolean | null;
  /** JUnit XML of the stage's tests, when it has some */
  junit?: string;
  /**
   * what failed, one entry each (lint and type errors, failing tests, blocking vulnerabilities, leaked secrets, failed
   * smoke checks); set when the stage ran, empty when it passed
   */
  findings?: Finding[];
}

/**
 * One thing a stage found wrong: where (file relative to the source, "" when in no file; line and column 1-based,
 * 0 when unknown), the tool's rule (ESLint rule, TSxxxx, advisory id, gitleaks rule, smoke check), the severity,
 * and what is wrong (one line, without the location).
 */
export interface Finding {
  file: string;
  line: number;
  column: number;
  rule: string;
  severity: string;
  message: string;
}

export const PIPELINE: StageDef[] = [
  { name: "lint", needs: [], after: [], about: "the project's lint script or ESLint" },
  { name: "typecheck", needs: [], after: [], about: "the typecheck script or tsc --noEmit" },
  { name: "test", needs: [], after: [], about: "unit tests, JUnit" },
  {
    name: "integration",
    needs: [],
    after: ["lint", "typecheck", "test"],
    about: "Testcontainers tests against a Docker engine in the pipeline",
  },
  { name: "build", needs: [], after: [], about: "the image from the Dockerfile, pushed tagged by commit SHA" },
  { name: "sbom", needs: ["build"], after: [], about: "CycloneDX and SPDX of the image (Syft)" },
  { name: "scan", needs: ["build"], after: [], about: "vulnerabilities of the image and lockfiles with the policy gate" },
  { name: "secrets", needs: [], after: [], about: "secrets in the source (gitleaks)" },
  {
    name: "sign",
    needs: ["build", "sbom"],
    after: ["lint", "typecheck", "test", "integration", "scan", "secrets"],
    about: "cosign signature; SBOM, SLSA provenance and scan attestations",
  },
  { name: "verify", needs: ["sign"], after: [], about: "signature and the three attestations against the public key" },
  {
    name: "deploy-preview",
    needs: ["verify"],
    after: [],
    about: "on a branch: its own environment (containers, database, URL) on staging's target, in staging's place",
  },
  { name: "smoke-preview", needs: ["deploy-preview"], after: [], about: "smoke checks against the branch's preview" },
  { name: "deploy-staging", needs: ["verify"], after: [], about: "roll out to staging (.env.staging)" },
  { name: "smoke-staging", needs: ["deploy-staging"], after: [], about: "smoke checks against staging" },
  {
    name: "approval",
    needs: [],
    after: ["smoke-staging"],
    about: "an explicit approval before production: a prompt on a terminal, --approve in scripts",
  },
  {
    name: "deploy-production",
    needs: ["verify", "approval"],
    after: ["smoke-staging"],
    about: "roll out the same digest to production (.env.production)",
  },
  { name: "smoke-production", needs: ["deploy-production"], after: [], about: "smoke checks against production" },
];

const names = (dag: StageDef[]) => dag.map((s) => s.name);

function checkName(dag: StageDef[], name: string, option: string): void {
  if (!names(dag).includes(name)) throw new Error(`${option} ${name}: no such stage; stages are ${names(dag).join(", ")}`);
}

/**
 * The stages to run: everything up to `until` (it and what it transitively waits for), minus `skip`; or exactly
 * `only` (what they wait for counts as not selected).
 */
export function select(dag: StageDef[], until?: string, skip: string[] = [], only: string[] = []): Set<string> {
  if (until) checkName(dag, until, "--until");
  skip.forEach((s) => checkName(dag, s, "--skip"));
  only.forEach((s) => checkName(dag, s, "--only"));
  if (only.length) return new Set(only.filter((s) => !skip.includes(s)));
  const byName = new Map(dag.map((s) => [s.name, s]));
  const chosen = new Set<string>();
  const add = (n: string) => {
    if (chosen.has(n)) return;
    chosen.add(n);
    for (const d of [...byName.get(n)!.needs, ...byName.get(n)!.after]) add(d);
  };
  if (until) add(until);
  else names(dag).forEach((n) => chosen.add(n));
  for (const s of skip) chosen.delete(s);
  return chosen;
}

/**
 * Runs the chosen stages, each as soon as its needs passed and its gates did not fail, up to all at once.
 * Returns one StageRun per stage of the DAG (the ones not chosen or not reached as skipped, with the reason).
 */
export async function runDag(
  dag: StageDef[],
  chosen: Set<string>,
  run: (stage: string) => Promise<StageRun>,
  onDone: (r: StageRun) => void = () => undefined,
): Promise<StageRun[]> {
  const results = new Map<string, StageRun>();
  const skipped = (stage: string, message: string): StageRun => ({ stage, status: "skipped", message, seconds: 0, cached: null });
  for (const s of dag) if (!chosen.has(s.name)) results.set(s.name, skipped(s.name, `${s.name}: skipped (not selected)`));
  const running = new Map<string, Promise<void>>();
  for (;;) {
    let progressed = false;
    for (const s of dag) {
      if (results.has(s.name) || running.has(s.name)) continue;
      const deps = [...s.needs, ...s.after].map((d) => [d, results.get(d)] as const);
      const failedDep = deps.find(
        ([d, r]) =>
          r && (r.status === "failed" || ((r.status === "skipped" || r.status === "waiting") && s.needs.includes(d) && chosen.has(d))),
      );
      const missingNeed = s.needs.find((d) => !chosen.has(d));
      if (failedDep || missingNeed) {
        const why = missingNeed ? `${missingNeed} was not selected` : `${failedDep![0]} ${failedDep![1]!.status}`;
        const r = skipped(s.name, `${s.name}: skipped (${why})`);
        results.set(s.name, r);
        onDone(r);
        progressed = true;
        continue;
      }
      if (deps.some(([, r]) => !r)) continue;
      running.set(
        s.name,
        run(s.name)
          .catch((err: Error) => ({
            stage: s.name,
            status: "failed" as const,
            message: `${s.name}: failed, ${err.message}`,
            seconds: 0,
            cached: null,
          }))
          .then((r) => {
            results.set(s.name, r);
            running.delete(s.name);
            onDone(r);
          }),
      );
      progressed = true;
    }
    if (results.size === dag.length) break;
    if (!progressed) {
      if (!running.size) throw new Error("the pipeline's DAG has a cycle");
      await Promise.race(running.values());
    }
  }
  return dag.map((s) => results.get(s.name)!);
}

export interface RunReport {
  source: string;
  revision: string;
  started: string;
  seconds: number;
  /** waiting: nothing failed, and a stage stopped the run for a decision (see `waiting`) */
  status: "passed" | "failed" | "waiting";
  /** the stage waiting for a decision and what it needs */
  waiting?: { stage: string; message: string };
  /** the image the run built (repository@sha256:...), when it got that far */
  image?: string;
  /** the branch's preview environment, when the run deployed one */
  preview?: { branch: string; url: string; expires: string };
  /** the first failed stage and why */
  failure?: { stage: string; message: string };
  stages: StageRun[];
}

/** What a run's report is made of: its source and commit, when it started, its stages' runs, what it built and deployed. */
export interface RunFacts {
  source: string;
  /** the commit, "" outside git */
  revision: string;
  started: Date;
  runs: StageRun[];
  image?: string;
  preview?: RunReport["preview"];
}

export function report({ source, revision, started, runs, image, preview }: RunFacts): RunReport {
  const failed = runs.find((r) => r.status === "failed");
  const waiting = runs.find((r) => r.status === "waiting");
  return {
    source,
    revision,
    started: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    status: failed ? "failed" : waiting ? "waiting" : "passed",
    ...(image ? { image } : {}),
    ...(preview ? { preview } : {}),
    ...(failed ? { failure: { stage: failed.stage, message: failed.message } } : {}),
    ...(!failed && waiting ? { waiting: { stage: waiting.stage, message: waiting.message } } : {}),
    stages: runs.map(({ junit: _junit, ...r }) => r),
  };
}

const ICON: Record<Outcome, string> = { passed: "✅", failed: "❌", skipped: "⏭️", "not-configured": "➖", waiting: "⏸️" };
const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The progress line for stages still running (name -> start, ms): "still running: scan 1m 10s, sbom 50s". */
export function stillRunning(active: Map<string, number>, now: number): string {
  const since = (t0: number) => {
    const s = Math.round((now - t0) / 1000);
    return s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
  };
  return `still running: ${[...active].map(([stage, t0]) => `${stage} ${since(t0)}`).join(", ")}`;
}

/** Markdown for a CI summary ($GITHUB_STEP_SUMMARY, a merge request note). */
export function markdown(r: RunReport): string {
  const head =
    r.status === "passed"
      ? "✅ passed"
      : r.status === "waiting"
        ? `⏸️ waiting at **${r.waiting!.stage}**`
        : `❌ failed at **${r.failure!.stage}**`;
  return [
    `## Slipway pipeline: ${head}`,
    "",
    `Source \`${r.source}\`${r.revision ? ` at \`${r.revision.slice(0, 12)}\`` : ""}, ${r.seconds.toFixed(1)} s.`,
    "",
    ...(r.preview
      ? [`Preview of \`${r.preview.branch}\`: ${r.preview.url} (removed after ${r.preview.expires} unless redeployed)`, ""]
      : []),
    "| stage | outcome | time | cache | details |",
    "| --- | --- | ---: | --- | --- |",
    ...r.stages.map(
      (s) =>
        `| ${s.stage} | ${ICON[s.status]} ${s.status} | ${s.seconds.toFixed(1)} s | ${s.cached === null ? "-" : s.cached ? "hit" : "ran"} | ${cell(s.message)} |`,
    ),
    "",
  ].join("\n");
}

/** The stages' JUnit reports as one, plus a testcase per stage (so a stage failure shows in any JUnit viewer). */
export function mergedJunit(runs: StageRun[]): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  for (const r of runs) {
    for (const m of (r.junit ?? "").matchAll(/<testsuite\b[\s\S]*?<\/testsuite>|<testsuite\b[^>]*\/>/g)) {
      suites.push(m[0].replace(/^<testsuite\b/, `<testsuite`));
      tests += Number(/tests="(\d+)"/.exec(m[0])?.[1] ?? 0);
      failures += Number(/failures="(\d+)"/.exec(m[0])?.[1] ?? 0);
    }
  }
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  const stageCases = runs.map((r) => {
    const head = `    <testcase classname="slipway.pipeline" name="${esc(r.stage)}" time="${r.seconds.toFixed(3)}"`;
    if (r.status === "failed") return `${head}>\n      <failure message="${esc(r.message)}"/>\n    </testcase>`;
    if (r.status !== "passed") return `${head}>\n      <skipped message="${esc(r.message)}"/>\n    </testcase>`;
    return `${head}/>`;
  });
  const stageFailures = runs.filter((r) => r.status === "failed").length;
  const stageSkipped = runs.filter((r) => r.status !== "passed" && r.status !== "failed").length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="slipway" tests="${tests + runs.length}" failures="${failures + stageFailures}">`,
    `  <testsuite name="slipway.pipeline" tests="${runs.length}" failures="${stageFailures}" skipped="${stageSkipped}">`,
    ...stageCases,
    "  </testsuite>",
    ...suites.map((s) => `  ${s}`),
    "</testsuites>",
    "",
  ].join("\n");
}

/**
 * GitHub Actions workflow commands for a failed stage: one error annotation per finding (at its file, line and
 * column when it has them), or one for the stage when it has no findings.
 */
export function annotations(r: StageRun): string[] {
  if (r.status !== "failed") return [];
  const esc = (s: string) => s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
  const prop = (s: string) => esc(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
  const title = `slipway ${r.stage}`;
  const found = (r.findings ?? []).map((f) => {
    const props: string[] = [];
    if (f.file) props.push(`file=${prop(f.file)}`);
    if (f.file && f.line) props.push(`line=${f.line}`);
    if (f.file && f.line && f.column) props.push(`col=${f.column}`);
    props.push(`title=${prop(f.rule ? `${title}: ${f.rule}` : title)}`);
    return `::error ${props.join(",")}::${esc(f.message)}`;
  });
  return found.length ? found : [`::error title=${prop(title)}::${esc(r.message)}`];
}
