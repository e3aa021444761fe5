import { describe, expect, it } from "vitest";
import {
  configProblem,
  eslintFindings,
  findingText,
  firstErrorLines,
  jestJunit,
  junitFailures,
  junitForCommand,
  junitTotals,
  tscFindings,
} from "../src/findings.ts";

describe("eslintFindings", () => {
  it("turns stylish output into findings at file:line:col with the rule, errors only", () => {
    const out = [
      "",
      "/src/src/app.ts",
      "  12:7  error    'unused' is assigned a value but never used  @typescript-eslint/no-unused-vars",
      "  14:1  warning  Unexpected console statement                 no-console",
      "  20:3  error    Parsing error: ';' expected",
      "",
      "✖ 3 problems (2 errors, 1 warning)",
    ].join("\n");
    const found = eslintFindings(out);
    expect(found).toEqual([
      {
        file: "src/app.ts",
        line: 12,
        column: 7,
        rule: "@typescript-eslint/no-unused-vars",
        severity: "error",
        message: "'unused' is assigned a value but never used",
      },
      { file: "src/app.ts", line: 20, column: 3, rule: "", severity: "error", message: "Parsing error: ';' expected" },
    ]);
    // the stage's message names them as before
    expect(found.map(findingText)).toEqual([
      "src/app.ts:12:7 'unused' is assigned a value but never used (@typescript-eslint/no-unused-vars)",
      "src/app.ts:20:3 Parsing error: ';' expected",
    ]);
  });
});

describe("tscFindings", () => {
  it("reads file(line,col): error TSxxxx, the code as the rule", () => {
    const out = "src/config.ts(9,7): error TS2322: Type 'string' is not assignable to type 'number'.\n";
    const found = tscFindings(out);
    expect(found).toEqual([
      {
        file: "src/config.ts",
        line: 9,
        column: 7,
        rule: "TS2322",
        severity: "error",
        message: "Type 'string' is not assignable to type 'number'.",
      },
    ]);
    expect(found.map(findingText)).toEqual(["src/config.ts:9:7 TS2322 Type 'string' is not assignable to type 'number'."]);
  });
});

describe("junit", () => {
  const xml = `<testsuites><testsuite name="a">
    <testcase classname="test/unit/notes.test.ts" name="validateText &gt; trims text" time="0.001"></testcase>
    <testcase classname="test/unit/notes.test.ts" name="validateText &gt; rejects empty text"><failure message="x">boom</failure></testcase>
    <testcase classname="c" name="skipped one"><skipped/></testcase>
    <testcase classname="c" name="self closing"/>
  </testsuite></testsuites>`;

  it("a finding per failed test case, in its test file (vitest's classname)", () => {
    const found = junitFailures(xml);
    expect(found).toEqual([
      {
        file: "test/unit/notes.test.ts",
        line: 0,
        column: 0,
        rule: "",
        severity: "error",
        message: "test/unit/notes.test.ts > validateText > rejects empty text failed",
      },
    ]);
    expect(found.map(findingText)).toEqual(["test/unit/notes.test.ts > validateText > rejects empty text"]);
  });

  it("the file attribute when the classname is no file (node --test), relative to the source", () => {
    const node = `<testsuites><testcase name="adds" classname="test" file="/src/test/math.test.js"><failure type="testCodeFailure">1 !== 2</failure></testcase></testsuites>`;
    expect(junitFailures(node)).toEqual([
      { file: "test/math.test.js", line: 0, column: 0, rule: "", severity: "error", message: "test > adds failed" },
    ]);
    expect(junitFailures(node).map(findingText)).toEqual(["test > adds"]);
  });

  it("counts tests, failures and skipped", () => {
    expect(junitTotals(xml)).toEqual({ tests: 4, failures: 1, skipped: 1 });
  });

  it("writes a one-case report for a runner without JUnit output", () => {
    const report = junitForCommand("test", "npm test", 1, "Error <here>");
    expect(junitFailures(report).map(findingText)).toEqual(["test > npm test"]);
    expect(junitFailures(report)[0].file).toBe("");
    expect(report).toContain("Error &lt;here&gt;");
  });
});

describe("jestJunit", () => {
  // the shape of `jest --json` (29.7) for a file with one passing and one failing test, and a file that did not load
  const json = JSON.stringify({
    testResults: [
      {
        name: "/src/test/sum.test.js",
        status: "failed",
        message: "  ● sum › adds a negative number",
        assertionResults: [
          { ancestorTitles: ["sum"], title: "adds two numbers", status: "passed", failureMessages: [], duration: 1 },
          {
            ancestorTitles: ["sum"],
            title: "adds a negative number",
            status: "failed",
            failureMessages: [
              "Error: \u001b[2mexpect(\u001b[22mreceived).toBe(expected)\n\nExpected: 3\nReceived: -1\n    at Object.toBe (/src/test/sum.test.js:9:24)",
            ],
            duration: 2,
          },
          { ancestorTitles: [], title: "later", status: "todo", failureMessages: [] },
        ],
      },
      { name: "/src/test/broken.test.js", status: "failed", message: "SyntaxError: Unexpected token (3:1)", assertionResults: [] },
    ],
  });

  it("makes one case per test, failures named by file and describe > test, and a case for a file that did not load", () => {
    const xml = jestJunit(json);
    expect(junitTotals(xml)).toEqual({ tests: 4, failures: 2, skipped: 1 });
    expect(junitFailures(xml).map(findingText)).toEqual([
      "test/sum.test.js > sum > adds a negative number",
      "test/broken.test.js > test/broken.test.js",
    ]);
    expect(junitFailures(xml)[0].file).toBe("test/sum.test.js");
    expect(xml).toContain('<failure message="Error: expect(received).toBe(expected)">');
    expect(xml).not.toContain("\u001b");
  });

  it("an empty run is an empty report", () => {
    expect(junitTotals(jestJunit("{}"))).toEqual({ tests: 0, failures: 0, skipped: 0 });
  });
});

describe("firstErrorLines", () => {
  it("names the failing test from the top of Jest's output, not its summary tail", () => {
    const out = [
      "> jest-project@1.0.0 test",
      "> jest",
      "FAIL test/sum.test.js",
      "  sum",
      "    ✓ adds two numbers (1 ms)",
      "    ✕ adds a negative number (1 ms)",
      "  ● sum › adds a negative number",
      "    expect(received).toBe(expected) // Object.is equality",
      "      at Object.toBe (test/sum.test.js:9:24)",
      "Tests:       1 failed, 1 passed, 2 total",
      "Snapshots:   0 total",
      "Time:        0.911 s",
      "Ran all test suites.",
      "npm error Lifecycle script `test` failed with error:",
    ].join("\n");
    expect(firstErrorLines(out)).toBe("FAIL test/sum.test.js | ✕ adds a negative number (1 ms) | ● sum › adds a negative number");
  });

  it("is empty when no line looks like an error", () => {
    expect(firstErrorLines("all good\ndone")).toBe("");
  });
});

describe("configProblem", () => {
  it("names ESLint's no-files-matched as a configuration problem with the fix", () => {
    const out =
      'Oops! Something went wrong! :(\n\nESLint: 8.57.1\n\nNo files matching the pattern "." were found.\nPlease check for typing mistakes in the pattern.';
    expect(configProblem(out)).toMatch(/^ESLint matched no file \(pattern "\."\): name the project's lint script with --lint-script NAME/);
    expect(configProblem("src/a.ts\n  1:1  error  x  rule")).toBeUndefined();
  });
});
