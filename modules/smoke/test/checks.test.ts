import { describe, expect, it } from "vitest";
import { judge, junit, parseChecks } from "../src/checks.ts";

describe("smoke checks", () => {
  it("parses checks with defaults, and names the file, entry and fix on bad input", () => {
    expect(parseChecks('[{"name": "health", "path": "/health"}]', "smoke.json")).toEqual([
      { name: "health", path: "/health", method: "GET", status: 200, body: undefined, maxMs: 1000 },
    ]);
    expect(() => parseChecks("[{", "smoke.json")).toThrow(/^smoke\.json is not JSON/);
    expect(() => parseChecks("[]", "smoke.json")).toThrow("smoke.json must be a non-empty JSON array");
    expect(() => parseChecks('[{"name": "x", "path": "health"}]', "smoke.json")).toThrow(
      'smoke.json entry 1 ("x") needs a "path" starting with /',
    );
    expect(() => parseChecks('[{"name": "x", "path": "/", "status": 9}]', "smoke.json")).toThrow('"status" must be an HTTP status code');
  });

  it("judges status, body and latency budget", () => {
    const check = { name: "h", path: "/health", status: 200, body: '"ok"', maxMs: 100 };
    expect(judge(check, 200, '{"status":"ok"}', 20)).toBe("");
    expect(judge(check, 503, "", 20)).toBe("status 503, expected 200");
    expect(judge(check, 200, "{}", 20)).toBe('body lacks "\\"ok\\""');
    expect(judge(check, 200, '"ok"', 250)).toBe("took 250 ms, budget 100 ms");
  });

  it("writes JUnit with one testcase per check and failures with their reason", () => {
    const xml = junit(
      "http://x",
      [
        { name: "a", passed: true, attempts: 1, ms: 12, failure: "" },
        { name: "b<c", passed: false, attempts: 3, ms: 5, failure: "status 500, expected 200" },
      ],
      3.5,
    );
    expect(xml).toContain('<testsuite name="http://x" tests="2" failures="1" time="3.500">');
    expect(xml).toContain('<testcase classname="http://x" name="a" time="0.012"/>');
    expect(xml).toContain('<testcase classname="http://x" name="b&lt;c" time="0.005">');
    expect(xml).toContain('<failure message="status 500, expected 200">status 500, expected 200 after 3 attempt(s)</failure>');
  });
});
