import { describe, expect, it } from "vitest";
import { eslintFindings, junitFailures, junitForCommand, junitTotals, tscFindings } from "../src/findings.ts";

describe("eslintFindings", () => {
  it("turns stylish output into file:line:col findings, errors only", () => {
    const out = [
      "",
      "/src/src/app.ts",
      "  12:7  error    'unused' is assigned a value but never used  @typescript-eslint/no-unused-vars",
      "  14:1  warning  Unexpected console statement                 no-console",
      "",
      "✖ 2 problems (1 error, 1 warning)",
    ].join("\n");
    expect(eslintFindings(out)).toEqual(["src/app.ts:12:7 'unused' is assigned a value but never used (@typescript-eslint/no-unused-vars)"]);
  });
});

describe("tscFindings", () => {
  it("reads file(line,col): error TSxxxx", () => {
    const out = "src/config.ts(9,7): error TS2322: Type 'string' is not assignable to type 'number'.\n";
    expect(tscFindings(out)).toEqual(["src/config.ts:9:7 TS2322 Type 'string' is not assignable to type 'number'."]);
  });
});

describe("junit", () => {
  const xml = `<testsuites><testsuite name="a">
    <testcase classname="test/unit/notes.test.ts" name="validateText &gt; trims text" time="0.001"></testcase>
    <testcase classname="test/unit/notes.test.ts" name="validateText &gt; rejects empty text"><failure message="x">boom</failure></testcase>
    <testcase classname="c" name="skipped one"><skipped/></testcase>
    <testcase classname="c" name="self closing"/>
  </testsuite></testsuites>`;

  it("names the failed test cases", () => {
    expect(junitFailures(xml)).toEqual(["test/unit/notes.test.ts > validateText > rejects empty text"]);
  });

  it("counts tests, failures and skipped", () => {
    expect(junitTotals(xml)).toEqual({ tests: 4, failures: 1, skipped: 1 });
  });

  it("writes a one-case report for a runner without JUnit output", () => {
    const report = junitForCommand("test", "npm test", 1, "Error <here>");
    expect(junitFailures(report)).toEqual(["test > npm test"]);
    expect(report).toContain("Error &lt;here&gt;");
  });
});
