/**
 * Smoke tests: HTTP checks against a deployed URL (status, body, latency budget) with retries until a deadline,
 * reported as JUnit. Never served from cache: each call checks the target as it is now.
 */
import { dag, type Directory, func, object, ReturnType, Service } from "@dagger.io/dagger";
import { readFileSync } from "node:fs";
import { StageResult } from "./result.ts";
import { type Check, type CheckResult, junit, parseChecks, runChecks, smokeReport } from "./checks.ts";

export { parseChecks, judge, junit, runChecks, type Check, type CheckResult } from "./checks.ts";

/** The image the pin table names (modules/pins, a dependency in dagger.json): one table for every module. */
function pinned(name: string): Promise<string> {
  return (dag as unknown as { pins(): { image(name: string): Promise<string> } }).pins().image(name);
}
const RUNNER_DIR = "/opt/slipway/smoke";

@object()
export class Smoke {
  /** The image the checks run in; empty: the pinned Node image (`dagger -m modules/pins call image --name node`). */
  @func() image: string;

  constructor(image: string = "") {
    this.image = image;
  }

  /**
   * Runs checks (a JSON array: [{"name", "path", "method"?, "status"?, "body"?, "maxMs"?}]) against url.
   * target: a tunnel for a url on the caller's loopback (its host is replaced by the tunnel's).
   */
  @func({ cache: "never" })
  async run(url: string, checks: string, deadlineSeconds = 30, target?: Service): Promise<StageResult> {
    const parsed = parseChecks(checks, "checks");
    let ctr = dag
      .container()
      .from(this.image || (await pinned("node")))
      .withEnvVariable("SLIPWAY_RUN", `${Date.now()}-${Math.random()}`)
      .withDirectory(RUNNER_DIR, runnerSource());
    let reach = url;
    const u = new URL(url);
    if (u.hostname === "localhost" || u.hostname === "127.0.0.1") {
      if (!target) throw new Error(`${url} is on this host's loopback: pass it as a service (--target tcp://localhost:${u.port || 80})`);
      ctr = ctr.withServiceBinding("target", target);
      u.hostname = "target";
      reach = u.toString();
    }
    const run = ctr
      .withEnvVariable("SLIPWAY_SMOKE", JSON.stringify({ url: reach, checks: parsed, deadlineSeconds, suite: url }))
      .withExec(["node", "--disable-warning=ExperimentalWarning", `${RUNNER_DIR}/container/runner.ts`], { expect: ReturnType.Any });
    const [code, out] = await Promise.all([run.exitCode(), run.stdout()]);
    const reports = run.directory("/out");
    // the runner's smoke.json has one result per check, in the checks' order
    const results =
      code === 0
        ? []
        : await reports
            .file("smoke.json")
            .contents()
            .then(
              (t) => (JSON.parse(t) as { results: CheckResult[] }).results,
              () => [],
            );
    return smokeResult({ url, parsed, code, out, results, reports, command: "runner.ts" });
  }
}

/**
 * Runs checks against url from this process rather than a container: the CLI's way, on the host the URL is
 * reached from (a loopback URL needs no tunnel), with the same retries, reports and result as Smoke.run.
 */
export async function smokeFromHere(url: string, checks: string, deadlineSeconds = 30): Promise<StageResult> {
  const parsed = parseChecks(checks, "checks");
  const run = await runChecks(url, parsed, deadlineSeconds);
  const code = run.results.every((r) => r.passed) ? 0 : 1;
  const reports = dag
    .directory()
    .withNewFile("junit.xml", junit(url, run.results, run.seconds))
    .withNewFile("smoke.json", smokeReport(url, run));
  const out = run.lines.map((l) => `${l}\n`).join("");
  return smokeResult({ url, parsed, code, out, results: run.results, reports, command: "checks from this host" });
}

/** The stage result of a smoke run: its message, one finding per failed check, the runner's output and reports. */
function smokeResult(run: {
  url: string;
  parsed: Check[];
  code: number;
  out: string;
  results: CheckResult[];
  reports: Directory;
  command: string;
}): StageResult {
  const { url, parsed, code, out, results, reports, command } = run;
  const failed = out
    .split("\n")
    .filter((l) => l.startsWith("FAIL"))
    .map((l) => l.slice(5));
  const message =
    code === 0
      ? `smoke: passed, ${parsed.length} check(s) against ${url}`
      : `smoke: failed, ${failed.length} of ${parsed.length} check(s) against ${url}: ${failed.join("; ")}`;
  const findings = results.flatMap((r, i) =>
    r.passed ? [] : [{ rule: r.name, message: `${parsed[i].method} ${parsed[i].path}: ${r.failure}` }],
  );
  return StageResult.of({
    stage: "smoke",
    status: code === 0 ? "passed" : "failed",
    message,
    command,
    exitCode: code,
    output: out,
    reports,
    findings,
  });
}

/**
 * The runner and the checks it imports, laid out as in this module, for the runner's container. The runner lives
 * in container/, not src/: the TypeScript runtime imports every file under src/ to register the module.
 */
function runnerSource(): Directory {
  const read = (f: string) => readFileSync(new URL(`../${f}`, import.meta.url), "utf8");
  return dag
    .directory()
    .withNewFile("container/runner.ts", read("container/runner.ts"))
    .withNewFile("src/checks.ts", read("src/checks.ts"));
}
