/**
 * The smoke runner, under plain node in a container: SLIPWAY_SMOKE = {"url", "checks", "deadlineSeconds", "suite"}.
 * Runs the checks (runChecks: each retried 1 s apart until it passes or the deadline passes), prints one line per
 * check, writes /out/junit.xml and /out/smoke.json, and exits 1 when any check fails.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { type Check, junit, runChecks, smokeReport } from "../src/checks.ts";

const { url, checks, deadlineSeconds, suite } = JSON.parse(process.env.SLIPWAY_SMOKE ?? "{}") as {
  url: string;
  checks: Check[];
  deadlineSeconds: number;
  suite: string;
};
void runChecks(url, checks, deadlineSeconds, (line) => process.stdout.write(`${line}\n`)).then((run) => {
  mkdirSync("/out", { recursive: true });
  writeFileSync("/out/junit.xml", junit(suite, run.results, run.seconds));
  writeFileSync("/out/smoke.json", smokeReport(suite, run));
  process.exit(run.results.every((r) => r.passed) ? 0 : 1);
});
