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
