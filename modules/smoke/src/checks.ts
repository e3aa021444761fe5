/**
 * Smoke checks: what to request and what to expect (status, body, latency budget), their parsing with errors
 * that name the fix, and the JUnit report. Runs under plain node too (the runner imports it by type stripping).
 */

export interface Check {
  name: string;
  path: string;
  method?: string;
  /** expected status (default 200) */
  status?: number;
  /** a substring the body must contain */
  body?: string;
  /** latency budget in milliseconds (default 1000) */
  maxMs?: number;
}

export interface CheckResult {
  name: string;
  passed: boolean;
  attempts: number;
  /** the last attempt's latency */
  ms: number;
  /** why the last attempt failed */
  failure: string;
}

/** A JSON array of checks; `where` names the file for errors. */
export function parseChecks(text: string, where: string): Check[] {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where} is not JSON (${(err as Error).message}): write [{"name": "health", "path": "/health", "status": 200}]`, {
      cause: err,
    });
  }
  if (!Array.isArray(list) || list.length === 0)
    throw new Error(`${where} must be a non-empty JSON array of checks: [{"name": "health", "path": "/health"}]`);
  return list.map((c, i) => {
    const at = `${where} entry ${i + 1}`;
    if (typeof c !== "object" || c === null) throw new Error(`${at} is not an object`);
    const { name, path, method, status, body, maxMs } = c as Record<string, unknown>;
    if (typeof name !== "string" || !name) throw new Error(`${at} needs a "name"`);
    if (typeof path !== "string" || !path.startsWith("/")) throw new Error(`${at} ("${name}") needs a "path" starting with /`);
    if (status !== undefined && (!Number.isInteger(status) || (status as number) < 100 || (status as number) > 599))
      throw new Error(`${at} ("${name}"): "status" must be an HTTP status code`);
    if (maxMs !== undefined && !(typeof maxMs === "number" && maxMs > 0))
      throw new Error(`${at} ("${name}"): "maxMs" must be a positive number of milliseconds`);
    if (body !== undefined && typeof body !== "string")
      throw new Error(`${at} ("${name}"): "body" must be a string to find in the response`);
    return {
      name,
      path,
      method: typeof method === "string" ? method.toUpperCase() : "GET",
      status: (status as number) ?? 200,
      body: body as string | undefined,
      maxMs: (maxMs as number) ?? 1000,
    };
  });
}

/** Why a response fails a check ("" when it passes). */
export function judge(check: Check, status: number, body: string, ms: number): string {
  if (status !== (check.status ?? 200)) return `status ${status}, expected ${check.status ?? 200}`;
  if (check.body !== undefined && !body.includes(check.body)) return `body lacks ${JSON.stringify(check.body)}`;
  if (ms > (check.maxMs ?? 1000)) return `took ${Math.round(ms)} ms, budget ${check.maxMs ?? 1000} ms`;
  return "";
}

/** One request of a check against url: why it failed ("" when it passed) and how long it took. */
async function attempt(url: string, check: Check): Promise<{ failure: string; ms: number }> {
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
    const cause = (err as Error).cause;
    return { failure: `no response (${cause instanceof Error ? cause.message : (err as Error).message})`, ms: performance.now() - t0 };
  }
}

/** The outcome of a run of checks: each check's result, the line printed for it, and the run's duration. */
export interface ChecksRun {
  results: CheckResult[];
  lines: string[];
  seconds: number;
}

/**
 * Runs checks against url in order, from this process: each is retried (1 s apart) until it passes or the
 * deadline (seconds from the start) passes. say: called with each check's line as it ends.
 */
export async function runChecks(
  url: string,
  checks: Check[],
  deadlineSeconds: number,
  say: (line: string) => void = () => {},
): Promise<ChecksRun> {
  const started = Date.now();
  const deadline = started + deadlineSeconds * 1000;
  const results: CheckResult[] = [];
  const lines: string[] = [];
  for (const check of checks) {
    let attempts = 0;
    let last: { failure: string; ms: number };
    do {
      if (attempts) await new Promise((r) => setTimeout(r, 1000));
      attempts++;
      last = await attempt(url, check);
    } while (last.failure && Date.now() < deadline);
    results.push({ name: check.name, passed: !last.failure, attempts, ms: last.ms, failure: last.failure });
    const line = `${last.failure ? "FAIL" : "ok  "} ${check.method} ${check.path} (${check.name}): ${last.failure || `${Math.round(last.ms)} ms`}${attempts > 1 ? `, ${attempts} attempts` : ""}`;
    lines.push(line);
    say(line);
  }
  return { results, lines, seconds: (Date.now() - started) / 1000 };
}

/** The smoke.json report of a run: the URL as the user gave it, the duration and each check's result. */
export function smokeReport(suite: string, run: ChecksRun): string {
  return JSON.stringify({ url: suite, seconds: run.seconds, results: run.results }, null, 2) + "\n";
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** JUnit XML: one testsuite (the target), one testcase per check. */
export function junit(suite: string, results: CheckResult[], seconds: number): string {
  const failures = results.filter((r) => !r.passed).length;
  const cases = results.map((r) => {
    const head = `    <testcase classname="${esc(suite)}" name="${esc(r.name)}" time="${(r.ms / 1000).toFixed(3)}"`;
    return r.passed
      ? `${head}/>`
      : `${head}>\n      <failure message="${esc(r.failure)}">${esc(`${r.failure} after ${r.attempts} attempt(s)`)}</failure>\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="smoke" tests="${results.length}" failures="${failures}" time="${seconds.toFixed(3)}">`,
    `  <testsuite name="${esc(suite)}" tests="${results.length}" failures="${failures}" time="${seconds.toFixed(3)}">`,
    ...cases,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
