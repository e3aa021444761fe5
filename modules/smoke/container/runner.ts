/**
 * The smoke runner, under plain node in a container: SLIPWAY_SMOKE = {"url", "checks", "deadlineSeconds", "suite"}.
 * Each check is retried (1 s apart) until it passes or the deadline passes. Writes /out/junit.xml and
 * /out/smoke.json; prints one line per check; exits 1 when any check fails.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { type Check, type CheckResult, judge, junit } from "../src/checks.ts";

const { url, checks, deadlineSeconds, suite } = JSON.parse(process.env.SLIPWAY_SMOKE ?? "{}") as {
  url: string;
  checks: Check[];
  deadlineSeconds: number;
  suite: string;
};
const started = Date.now();
const deadline = started + deadlineSeconds * 1000;

async function attempt(check: Check): Promise<{ failure: string; ms: number }> {
  const t0 = performance.now();
  try {
    const res = await fetch(new URL(check.path, url), {
      method: check.method,
      signal: AbortSignal.timeout(Math.max(check.maxMs ?? 1000, 5000)),
    });
    const body = await res.text();
    const ms = performance.now() - t0;
    return { failure: judge(check, res.status, body, ms), ms };
  } catch (err) {
    return {
      failure: `no response (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message})`,
      ms: performance.now() - t0,
    };
  }
}

const results: CheckResult[] = [];
for (const check of checks) {
  let attempts = 0;
  let last: { failure: string; ms: number };
  do {
    if (attempts) await new Promise((r) => setTimeout(r, 1000));
    attempts++;
    last = await attempt(check);
  } while (last.failure && Date.now() < deadline);
  results.push({ name: check.name, passed: !last.failure, attempts, ms: last.ms, failure: last.failure });
  process.stdout.write(
    `${last.failure ? "FAIL" : "ok  "} ${check.method} ${check.path} (${check.name}): ${last.failure || `${Math.round(last.ms)} ms`}${attempts > 1 ? `, ${attempts} attempts` : ""}\n`,
  );
}
const seconds = (Date.now() - started) / 1000;
mkdirSync("/out", { recursive: true });
writeFileSync("/out/junit.xml", junit(suite, results, seconds));
writeFileSync("/out/smoke.json", JSON.stringify({ url: suite, seconds, results }, null, 2) + "\n");
process.exit(results.every((r) => r.passed) ? 0 : 1);
