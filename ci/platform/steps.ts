/** A small runner for idempotent provisioning steps: each reports progress and fails with one actionable line. */

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
/** While a step works, a line at least this often (a cold `engine up` has steps of many minutes). */
export const HEARTBEAT_SECONDS = 25; // checked each second: a gap stays under 30 s

const elapsed = (s: number) => (s < 60 ? `${Math.round(s)}s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)}s`);

/**
 * Runs the steps in order. Each reports "ok" or "done" with its time; a step that works prints its progress, and
 * "still ..." every HEARTBEAT_SECONDS when it has said nothing for that long. quiet: only what does work is shown
 * (a warm run prints nothing).
 */
export async function runSteps(steps: Step[], opts: { out?: (line: string) => void; quiet?: boolean } = {}): Promise<StepReport[]> {
  const out = opts.out ?? log;
  const reports: StepReport[] = [];
  for (const [i, step] of steps.entries()) {
    const tag = `[${i + 1}/${steps.length}] ${step.title}`;
    const t0 = Date.now();
    const already = await step.done();
    let result = already;
    if (already === undefined) {
      out(`${tag} ...`);
      let last = Date.now();
      const say = (line: string) => {
        last = Date.now();
        out(line);
      };
      const heartbeat = setInterval(() => {
        if (Date.now() - last >= HEARTBEAT_SECONDS * 1000 - 50)
          say(`      still working: ${step.title} (${elapsed((Date.now() - t0) / 1000)} so far)`);
      }, 1000);
      try {
        result = await step.run((line) => say(`      ${line}`));
      } finally {
        clearInterval(heartbeat);
      }
    }
    const seconds = (Date.now() - t0) / 1000;
    if (already === undefined || !opts.quiet) out(`${tag}: ${already === undefined ? "done" : "ok"}, ${result} (${seconds.toFixed(1)}s)`);
    reports.push({ title: step.title, changed: already === undefined, result: result ?? "", seconds });
  }
  return reports;
}
