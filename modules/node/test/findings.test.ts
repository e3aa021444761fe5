import { describe, expect, it } from "vitest";
import { eslintFindings, findingText, junitFailures, junitForCommand, junitTotals, tscFindings } from "../src/findings.ts";

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
