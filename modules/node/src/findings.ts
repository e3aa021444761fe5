/** Pure parsers that turn tool output into the findings a stage reports and names in its failure message. */

/**
 * What a stage found wrong, as plain data: where (file relative to the source, "" when unknown; line and column
 * 1-based, 0 when unknown), the tool's rule, the severity and what is wrong (without the location).
 */
export interface Finding {
  file: string;
  line: number;
  column: number;
  rule: string;
  severity: string;
  message: string;
}

/** ESLint's errors from its default (stylish) output; paths relative to `root`. */
export function eslintFindings(output: string, root = "/src/"): Finding[] {
  const findings: Finding[] = [];
  let file = "";
  for (const line of output.split("\n")) {
    if (/^\S.*\.[cm]?[jt]sx?$/.test(line.trim()) && !line.startsWith(" ")) file = line.trim().replace(root, "");
    const m = /^\s+(\d+):(\d+)\s+(error|warning)\s+(.+?)(?:\s{2,}(\S+))?$/.exec(line);
    if (m && file && m[3] === "error") {
      findings.push({ file, line: Number(m[1]), column: Number(m[2]), rule: m[5] ?? "", severity: "error", message: m[4] });
    }
  }
  return findings;
}

/** tsc's errors ("file(line,col): error TSxxxx: message"), the TSxxxx code as the rule. */
export function tscFindings(output: string, root = "/src/"): Finding[] {
  const re = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/gm;
  return [...output.matchAll(re)].map((m) => ({
    file: m[1].replace(root, ""),
    line: Number(m[2]),
    column: Number(m[3]),
    rule: m[4],
    severity: "error",
    message: m[5],
  }));
}

/** A path to a JavaScript or TypeScript file (vitest's JUnit classname is the test file). */
const SOURCE_FILE = /^[\w./@-]+\.[cm]?[jt]sx?$/;

/**
 * The failed or errored test cases of a JUnit XML report, message "suite > test failed" (the suite is the
 * classname: vitest's is the test file). file: the testcase's file attribute (relative to `root`), else its
 * classname when that names a source file, else "".
 */
export function junitFailures(xml: string, root = "/src/"): Finding[] {
  const failed: Finding[] = [];
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    if (!m[3] || !/<(failure|error)\b/.test(m[3])) continue;
    const attr = (name: string) => unescapeXml(new RegExp(`\\b${name}="([^"]*)"`).exec(m[1])?.[1] ?? "");
    const classname = attr("classname");
    const file = attr("file").replace(root, "") || (SOURCE_FILE.test(classname) ? classname : "");
    const name = [classname, attr("name")].filter(Boolean).join(" > ");
    failed.push({ file, line: 0, column: 0, rule: "", severity: "error", message: `${name} failed` });
  }
  return failed;
}

/**
 * A finding as the stage's message names it (tests and users match on this text): "file:line:col message (rule)"
 * for ESLint, "file:line:col TSxxxx message" for tsc, "suite > test" for a failing test.
 */
export function findingText(f: Finding): string {
  if (!f.line) return f.message.replace(/ failed$/, "");
  const at = `${f.file}:${f.line}:${f.column}`;
  return /^TS\d+$/.test(f.rule) ? `${at} ${f.rule} ${f.message}` : `${at} ${f.message}${f.rule ? ` (${f.rule})` : ""}`;
}

/** Totals of a JUnit XML report: tests, failures (incl. errors) and skipped. */
export function junitTotals(xml: string): { tests: number; failures: number; skipped: number } {
  const cases = [...xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)];
  return {
    tests: cases.length,
    failures: cases.filter((c) => c[2] && /<(failure|error)\b/.test(c[2])).length,
    skipped: cases.filter((c) => c[2] && /<skipped\b/.test(c[2])).length,
  };
}

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

/** A JUnit report for a tool that writes none: one test case carrying the command's outcome. */
export function junitForCommand(suite: string, command: string, exitCode: number, output: string): string {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  const failure = exitCode === 0 ? "" : `<failure message="exit code ${exitCode}">${esc(output.slice(-4000))}</failure>`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="${esc(suite)}" tests="1" failures="${exitCode ? 1 : 0}">` +
    `<testcase classname="${esc(suite)}" name="${esc(command)}">${failure}</testcase></testsuite></testsuites>\n`
  );
}

interface JestResults {
  testResults?: {
    name: string;
    message?: string;
    status?: string;
    assertionResults?: { ancestorTitles?: string[]; title: string; status: string; failureMessages?: string[]; duration?: number | null }[];
  }[];
}

/**
 * JUnit XML from Jest's `--json` results: one testsuite per test file, classname the file (relative to `root`),
 * name "describe > test". A file that failed before its tests ran (a syntax error) becomes one failed case.
 */
export function jestJunit(json: string, root = "/src/"): string {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  // eslint-disable-next-line no-control-regex
  const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "");
  const results = (JSON.parse(json) as JestResults).testResults ?? [];
  const suites = results.map((file) => {
    const rel = file.name.replace(root, "");
    const cases = (file.assertionResults ?? []).map((t) => {
      const name = [...(t.ancestorTitles ?? []), t.title].join(" > ");
      const time = ((t.duration ?? 0) / 1000).toFixed(3);
      const failure = (t.failureMessages ?? []).map(plain).join("\n");
      const body =
        t.status === "failed"
          ? `<failure message="${esc(failure.split("\n")[0] ?? "")}">${esc(failure)}</failure>`
          : t.status === "pending" || t.status === "todo" || t.status === "skipped"
            ? "<skipped/>"
            : "";
      return `<testcase classname="${esc(rel)}" name="${esc(name)}" file="${esc(rel)}" time="${time}">${body}</testcase>`;
    });
    if (!cases.length && file.status === "failed") {
      const msg = plain(file.message ?? "test file failed to run");
      cases.push(
        `<testcase classname="${esc(rel)}" name="${esc(rel)}" file="${esc(rel)}"><error message="${esc(msg.trim().split("\n")[0] ?? "")}">${esc(msg)}</error></testcase>`,
      );
    }
    const failures = cases.filter((c) => /<(failure|error)\b/.test(c)).length;
    return `<testsuite name="${esc(rel)}" tests="${cases.length}" failures="${failures}">${cases.join("")}</testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>${suites.join("")}</testsuites>\n`;
}

/**
 * The first error lines of a test run's output, for a runner that wrote no per-test report: the failure is near the
 * top (FAIL, ✕, not ok, an assertion), while the last lines are a summary. npm's own lines and stack frames are
 * left out; "" when no line looks like an error.
 */
export function firstErrorLines(output: string, n = 3): string {
  const lines = output
    .split("\n")
    // eslint-disable-next-line no-control-regex
    .map((l) => l.replace(/\u001b\[[0-9;]*m/g, "").trim())
    .filter((l) => l && !/^at /.test(l) && !/^npm (ERR!|error)/.test(l) && !/^> /.test(l));
  const errors = lines.filter((l) => /^(FAIL\b|✕|×|✗|●|not ok\b|\d+\) )|Error\b|\bfailed\b|\bfailing\b|expected/i.test(l));
  return errors.slice(0, n).join(" | ");
}

/**
 * A linter that ran on nothing: ESLint's "No files matching the pattern" (ESLint < 9 with a legacy config lints
 * only .js unless given --ext). What is wrong and the fix, or undefined.
 */
export function configProblem(output: string): string | undefined {
  const m = /No files matching the pattern "([^"]*)"/.exec(output);
  if (!m) return undefined;
  return (
    `ESLint matched no file (pattern "${m[1]}"): name the project's lint script with --lint-script NAME, or add ` +
    `a "lint" script that passes the files (ESLint < 9 with a legacy .eslintrc needs --ext .js,.ts)`
  );
}
