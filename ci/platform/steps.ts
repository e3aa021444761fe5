/** A small runner for idempotent provisioning steps: each reports progress and fails with one actionable line. */
import { performance } from "node:perf_hooks";

/** A failure a user can act on: which step, what went wrong, and how to fix it, printed as one line. */
export class StepError extends Error {
  constructor(
    readonly step: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${step}: ${problem} (fix: ${fix})`);
    this.name = "StepError";
  }
}

export interface Step {
  /** Short imperative title, e.g. "Docker engine". */
  title: string;
  /** Returns a reason string when nothing needs doing (shown as "ok: <reason>"), otherwise undefined. */
  done(): Promise<string | undefined>;
  /** Does the work; may call `progress` with one-line updates. Returns a short result. */
  run(progress: (line: string) => void): Promise<string>;
}

export interface StepReport {
  title: string;
  changed: boolean;
  result: string;
  seconds: number;
}

const log = (line: string) => process.stderr.write(line + "\n");

export async function runSteps(steps: Step[], out: (line: string) => void = log): Promise<StepReport[]> {
  const reports: StepReport[] = [];
  for (const [i, step] of steps.entries()) {
    const tag = `[${i + 1}/${steps.length}] ${step.title}`;
    const t0 = performance.now();
    const already = await step.done();
    let result = already;
    if (already === undefined) {
      out(`${tag} ...`);
      result = await step.run((line) => out(`      ${line}`));
    }
    const seconds = (performance.now() - t0) / 1000;
    out(`${tag}: ${already === undefined ? "done" : "ok"}, ${result} (${seconds.toFixed(1)}s)`);
    reports.push({ title: step.title, changed: already === undefined, result: result ?? "", seconds });
  }
  return reports;
}
