/** Pure parsers that turn tool output into the findings a stage names in its failure message. */

/** "file:line:col message" from ESLint's default (stylish) output; paths relative to `root`. */
export function eslintFindings(output: string, root = "/src/"): string[] {
  const findings: string[] = [];
  let file = "";
  for (const line of output.split("\n")) {
    if (/^\S.*\.[cm]?[jt]sx?$/.test(line.trim()) && !line.startsWith(" ")) file = line.trim().replace(root, "");
    const m = /^\s+(\d+):(\d+)\s+(error|warning)\s+(.+?)(?:\s{2,}(\S+))?$/.exec(line);
    if (m && file && m[3] === "error") findings.push(`${file}:${m[1]}:${m[2]} ${m[4]}${m[5] ? ` (${m[5]})` : ""}`);
  }
  return findings;
}

/** "file:line:col TSxxxx message" from tsc's output. */
export function tscFindings(output: string, root = "/src/"): string[] {
  const re = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/gm;
  return [...output.matchAll(re)].map((m) => `${m[1].replace(root, "")}:${m[2]}:${m[3]} ${m[4]} ${m[5]}`);
}

/** Names ("suite > test") of the failed or errored test cases in a JUnit XML report. */
export function junitFailures(xml: string): string[] {
  const failed: string[] = [];
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    if (!m[3] || !/<(failure|error)\b/.test(m[3])) continue;
    const attr = (name: string) => unescapeXml(new RegExp(`\\b${name}="([^"]*)"`).exec(m[1])?.[1] ?? "");
    failed.push([attr("classname"), attr("name")].filter(Boolean).join(" > "));
  }
  return failed;
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
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
}

/** A JUnit report for a tool that writes none: one test case carrying the command's outcome. */
export function junitForCommand(suite: string, command: string, exitCode: number, output: string): string {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  const failure = exitCode === 0 ? "" : `<failure message="exit code ${exitCode}">${esc(output.slice(-4000))}</failure>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="${esc(suite)}" tests="1" failures="${exitCode ? 1 : 0}">` +
    `<testcase classname="${esc(suite)}" name="${esc(command)}">${failure}</testcase></testsuite></testsuites>\n`;
}
