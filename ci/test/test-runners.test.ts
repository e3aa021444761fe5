/**
 * The test stage on Jest and Mocha projects, on the real engine through the slipway CLI: per-test JUnit reports
 * and a failure line that names the failing test (ci/test/fixtures/jest-project, mocha-project).
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { slipway } from "./helpers.ts";

const FIXTURES = join(import.meta.dirname, "fixtures");

/** A copy of a fixture (without node_modules) with one file edited. */
function fixtureWith(name: string, file: string, edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), `slipway-${name}-`));
  cpSync(join(FIXTURES, name), dir, { recursive: true, filter: (src) => !src.includes("node_modules") });
  writeFileSync(join(dir, file), edit(readFileSync(join(dir, file), "utf8")));
  return dir;
}

describe("test stage on Jest and Mocha projects", () => {
  it("Jest: a failing test fails the stage naming it, and the JUnit report is made from Jest's --json", async () => {
    const reports = mkdtempSync(join(tmpdir(), "slipway-reports-"));
    const r = await slipway("test", "--source", join(FIXTURES, "jest-project"), "--reports", reports);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^test: failed \(2 tests, 1 failed, 0 skipped\): test\/sum\.test\.js > sum > adds a negative number \[/m);
    const junit = readFileSync(join(reports, "test/junit.xml"), "utf8");
    expect(junit).toMatch(/name="sum &gt; adds two numbers"[^>]*><\/testcase>/);
    expect(junit).toMatch(/name="sum &gt; adds a negative number"[^>]*><failure message="Error: expect\(received\)/);
  });

  it("Jest before the last step of a script: no per-test report, the failure line is the first error lines", async () => {
    // flags appended to the script would reach its last step, not Jest: no reporter is added
    const src = fixtureWith("jest-project", "package.json", (t) => t.replace('"test": "jest"', '"test": "jest && node --version"'));
    const r = await slipway("test", "--source", src);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^test: failed \(no per-test report: .*\): FAIL test\/sum\.test\.js \| .*adds a negative number/m);
    expect(r.out).not.toMatch(/^test: failed .*Ran all test suites/m);
  });

  it("Mocha: passes with its xunit report; a failing copy fails naming the test", async () => {
    const reports = mkdtempSync(join(tmpdir(), "slipway-reports-"));
    const pass = await slipway("test", "--source", join(FIXTURES, "mocha-project"), "--reports", reports);
    expect(pass.out).toMatch(/^test: passed \(2 tests, 0 failed, 0 skipped\)/m);
    expect(pass.code).toBe(0);
    expect(readFileSync(join(reports, "test/junit.xml"), "utf8")).toMatch(/<testcase classname="sum" name="adds zero"/);
    const src = fixtureWith("mocha-project", "test/sum.test.js", (t) => t.replace("sum(1, 0), 1", "sum(1, 0), 2"));
    const fail = await slipway("test", "--source", src);
    expect(fail.code).toBe(1);
    expect(fail.out).toMatch(/^test: failed \(2 tests, 1 failed, 0 skipped\): sum > adds zero \[/m);
  });
});

describe("test stage with Docker", () => {
  it("a test script that starts PostgreSQL through Testcontainers gets a Docker engine, logs and clean-up", async () => {
    const reports = mkdtempSync(join(tmpdir(), "slipway-reports-"));
    const r = await slipway("test", "--source", join(FIXTURES, "testcontainers-unit"), "--reports", reports);
    expect(r.out).toMatch(/^test: passed \(1 tests, 0 failed, 0 skipped; \d+ containers? \(logs in containers\/\), pulled: /m);
    expect(r.code).toBe(0);
    expect(readFileSync(join(reports, "test/junit.xml"), "utf8")).toMatch(/<testcase[^>]*name="PostgreSQL answers a query"/);
    expect(r.out).not.toMatch(/left running/);
  });

  it("without the dependency and with the declaration off, the same tests find no container runtime", async () => {
    const src = fixtureWith("testcontainers-unit", "package.json", (t) =>
      t.replace('"devDependencies"', '"slipway": { "docker": false },\n  "devDependencies"'),
    );
    const r = await slipway("test", "--source", src);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^test: failed .*PostgreSQL answers a query|^test: failed .*container runtime/m);
  });
});
