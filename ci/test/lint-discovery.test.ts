/**
 * lint on an ESLint 8 project with a legacy .eslintrc.json and TypeScript sources whose lint command lives under
 * "test:code" (ci/test/fixtures/eslint8-project), on the real engine through the slipway CLI.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { slipway } from "./helpers.ts";

const FIXTURE = join(import.meta.dirname, "fixtures/eslint8-project");

/** A copy of the fixture (without node_modules) with one file edited. */
function fixtureWith(file: string, edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), "slipway-eslint8-"));
  cpSync(FIXTURE, dir, { recursive: true, filter: (src) => !src.includes("node_modules") });
  writeFileSync(join(dir, file), edit(readFileSync(join(dir, file), "utf8")));
  return dir;
}

describe("lint discovery on an ESLint 8 legacy-config project", () => {
  it("finds the lint command under test:code and passes", async () => {
    const r = await slipway("lint", "--source", FIXTURE);
    expect(r.out).toMatch(/^lint: passed \(script "test:code": eslint --ext \.ts src\)/m);
    expect(r.code).toBe(0);
  });

  it("a lint error in a copy fails with file:line", async () => {
    const src = fixtureWith("src/add.ts", (t) => t + "\nconst unusedValue = 1;\n");
    const r = await slipway("lint", "--source", src);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^lint: failed, 1 error\(s\): src\/add\.ts:5:7 'unusedValue' is assigned a value but never used \(@typescript-eslint\/no-unused-vars\)/m,
    );
  });

  it("with no lint script, the ESLint fallback passes --ext for ESLint 8 and finds the same error", async () => {
    const src = fixtureWith("package.json", (t) => t.replace('"test:code"', '"x-code"'));
    writeFileSync(join(src, "src/add.ts"), readFileSync(join(src, "src/add.ts"), "utf8") + "\nconst unusedValue = 1;\n");
    const r = await slipway("lint", "--source", src);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^lint: failed, 1 error\(s\): src\/add\.ts:5:7 /m);
  });

  it("--lint-script names the script; ESLint matching no file is a configuration problem naming the fix", async () => {
    const src = fixtureWith("package.json", (t) =>
      t.replace('"test:code": "eslint --ext .ts src"', '"test:code": "eslint --ext .ts src", "verify": "eslint lib"'),
    );
    const r = await slipway("lint", "--source", src, "--lint-script", "verify");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^lint: failed, configuration problem: ESLint matched no file \(pattern "lib"\): name the project's lint script with --lint-script NAME/m,
    );
    const missing = await slipway("lint", "--source", src, "--lint-script", "nope");
    expect(missing.code).not.toBe(0);
    expect(missing.out).toMatch(/--lint-script "nope": package\.json has no such script \(it has test:code, verify\): name one of those/);
  });

  it("slipway pipeline takes --lint-script too", async () => {
    const src = fixtureWith("package.json", (t) => t.replace('"test:code"', '"x-code"'));
    writeFileSync(join(src, "src/add.ts"), readFileSync(join(src, "src/add.ts"), "utf8") + "\nconst unusedValue = 1;\n");
    const reports = mkdtempSync(join(tmpdir(), "slipway-reports-"));
    const r = await slipway("pipeline", "--source", src, "--reports", reports, "--only", "lint", "--lint-script", "x-code");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^ {2}lint\s+failed\s.*src\/add\.ts:5:7 /m);
  });
});
