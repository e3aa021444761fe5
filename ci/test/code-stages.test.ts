/**
 * lint, typecheck and test on the real engine, through the slipway CLI as a user runs them, on the example and
 * on broken copies of it.
 */
import { connection, dag } from "@dagger.io/dagger";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Node } from "../../modules/node/src/index.ts";
import { bindModules } from "../cli/bindings.ts";
import { copyWith, EXAMPLE, slipway } from "./helpers.ts";

// the module classes run in this process: the dependencies they call through dag are the in-process stand-ins
bindModules();

describe("code stages on examples/node-api", () => {
  it.each(["lint", "typecheck", "test"])("%s passes on the example", async (stage) => {
    const reports = mkdtempSync(join(tmpdir(), "slipway-reports-"));
    const r = await slipway(stage, "--source", EXAMPLE, "--reports", reports);
    expect(r.out).toMatch(new RegExp(`^${stage}: passed`, "m"));
    expect(r.code).toBe(0);
    if (stage === "test")
      expect(readFileSync(join(reports, "test/junit.xml"), "utf8")).toMatch(/<testcase[^>]*name="validateText &gt; trims text"/);
    // the same source again: the engine's cache answers, and the line says so
    const again = await slipway(stage, "--source", EXAMPLE, "--reports", reports);
    expect(again.out).toMatch(new RegExp(`^${stage}: passed.* \\[cached, \\d+\\.\\ds\\]$`, "m"));
  });

  it("a failing test fails the stage, names the test and still exports the JUnit report", async () => {
    const src = copyWith("test/unit/notes.test.ts", (t) => t.replace('toBe("hello")', 'toBe("hello!")'));
    const reports = mkdtempSync(join(tmpdir(), "slipway-reports-"));
    const r = await slipway("test", "--source", src, "--reports", reports);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^test: failed \(8 tests, 1 failed, 0 skipped\): test\/unit\/notes\.test\.ts > validateText > trims text/m);
    const junit = readFileSync(join(reports, "test/junit.xml"), "utf8");
    expect(junit).toMatch(/name="validateText &gt; trims text"[^>]*>\s*<failure/);
  });

  it("a lint error fails lint with file:line", async () => {
    const src = copyWith("src/config.ts", (t) => t + "\nconst unusedValue = 1;\n");
    const line = readFileSync(join(src, "src/config.ts"), "utf8").split("\n").indexOf("const unusedValue = 1;") + 1;
    const r = await slipway("lint", "--source", src);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      new RegExp(`^lint: failed, 1 error\\(s\\): src/config\\.ts:${line}:7 'unusedValue' is assigned a value but never used`, "m"),
    );
  });

  it("a type error fails typecheck with file:line", async () => {
    const src = copyWith("src/config.ts", (t) =>
      t.replace("const port = Number(env.PORT ?? 3000);", "const port: number = env.PORT ?? 3000;"),
    );
    const line =
      readFileSync(join(src, "src/config.ts"), "utf8")
        .split("\n")
        .findIndex((l) => l.includes("const port: number")) + 1;
    const r = await slipway("typecheck", "--source", src);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(new RegExp(`^typecheck: failed, 1 error\\(s\\): src/config\\.ts:${line}:9 TS2322`, "m"));
  });

  it("reports not-configured as its own outcome, not a failure", async () => {
    const src = copyWith("package.json", (t) => t.replace(/"lint": "[^"]*",\n\s*/, ""));
    rmSync(join(src, "eslint.config.js"));
    const r = await slipway("lint", "--source", src);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^lint: not configured \(no "lint", .* script and no ESLint configuration\)/m);
  });
});

describe("code stages with pnpm and yarn (through corepack)", () => {
  it.each(["pnpm", "yarn"])("typecheck and test pass on a %s project, tests forwarded their JUnit flags", async (manager) => {
    const src = join(import.meta.dirname, `fixtures/${manager}-project`);
    const reports = mkdtempSync(join(tmpdir(), "slipway-reports-"));
    const typecheck = await slipway("typecheck", "--source", src, "--reports", reports);
    expect(typecheck.out).toMatch(/^typecheck: passed \(script "typecheck": tsc --noEmit\)/m);
    const test = await slipway("test", "--source", src, "--reports", reports);
    expect(test.out).toMatch(/^test: passed \(1 tests, 0 failed, 0 skipped\)/m);
    expect(readFileSync(join(reports, "test/junit.xml"), "utf8")).toMatch(/<testcase[^>]*name="adds"/);
  });
});

describe("slipway pipeline", () => {
  it("runs lint, typecheck and test on the bundled example with the embedded defaults and exports the reports", async () => {
    const reports = mkdtempSync(join(tmpdir(), "slipway-reports-"));
    // the code stages only: this file runs beside the targets lane, whose pipeline.test signs and deploys this same
    // image (two signers of one digest race on its attestation manifest; two deploys on the targets' lock)
    const r = await slipway("pipeline", "--source", EXAMPLE, "--reports", reports, "--only", "lint,typecheck,test");
    expect(r.code, r.out).toBe(0);
    for (const stage of ["lint", "typecheck", "test"]) expect(r.out).toMatch(new RegExp(`^  ${stage}\\s+passed\\s`, "m"));
    expect(r.out).toMatch(/^passed in /m);
    expect(existsSync(join(reports, "test/junit.xml"))).toBe(true);
  });

  it("fails and names the failing stage when one stage fails", async () => {
    const src = copyWith("src/config.ts", (t) => t + "\nconst unusedValue = 1;\n");
    const r = await slipway("pipeline", "--source", src, "--reports", mkdtempSync(join(tmpdir(), "slipway-reports-")));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^ {2}lint\s+failed\s/m);
    expect(r.out).toMatch(/^failed at lint: lint: failed, 1 error\(s\): src\/config\.ts:\d+:\d+ /m);
  });
});

describe("dependency install layer", () => {
  let installedAt: (dir: string) => Promise<string>;
  beforeAll(() => {
    installedAt = async (dir) => {
      let stamp = "";
      await connection(async () => {
        const ctr = await new Node().install(dag.host().directory(dir, { exclude: ["node_modules"] }));
        stamp = await ctr.file("/tmp/slipway-installed-at").contents();
      });
      return stamp;
    };
  });

  it("is not re-run when a source file changes, and is when the lockfile changes", async () => {
    const src = copyWith("src/notes.ts", (t) => t);
    const first = await installedAt(src);
    writeFileSync(join(src, "src/notes.ts"), readFileSync(join(src, "src/notes.ts"), "utf8") + "\n// edited\n");
    expect(await installedAt(src)).toBe(first);
    const lock = JSON.parse(readFileSync(join(src, "package-lock.json"), "utf8"));
    lock.name = "node-api-renamed";
    writeFileSync(join(src, "package-lock.json"), JSON.stringify(lock, null, 2));
    expect(await installedAt(src)).not.toBe(first);
    expect(existsSync(join(src, "node_modules"))).toBe(false);
  });
});
