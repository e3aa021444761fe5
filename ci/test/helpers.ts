/** What the tests share: commands as a user runs them, copies of the example, the repository's source files. */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "../..");
export const CLI = join(ROOT, "ci/bin/slipway.js");
export const EXAMPLE = join(ROOT, "examples/node-api");

/** Runs a command without blocking the test worker; resolves with the exit code, stdout, and all output. */
export function run(
  file: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
): Promise<{ code: number; stdout: string; out: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeout ?? 600_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, out: stdout + stderr });
    });
  });
}

/** The slipway CLI. */
export const slipway = (...args: string[]) => run(process.execPath, [CLI, ...args]);

/** A copy of the example at dir (a new temporary directory by default), without node_modules, reports or dist. */
export function copyExample(dir = mkdtempSync(join(tmpdir(), "slipway-example-"))): string {
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/node_modules|reports|dist/.test(src.slice(EXAMPLE.length)) });
  return dir;
}

/** A copy of the example with `edit` applied to one file. */
export function copyWith(file: string, edit: (text: string) => string): string {
  const dir = copyExample();
  writeFileSync(join(dir, file), edit(readFileSync(join(dir, file), "utf8")));
  return dir;
}

/** The JavaScript and TypeScript files under dir, recursively, leaving out directories named in skip. */
export function sourceFiles(dir: string, skip: string[] = []): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return skip.includes(e.name) ? [] : sourceFiles(path, skip);
    return /\.(c|m)?(t|j)s$/.test(e.name) ? [path] : [];
  });
}

export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), `slipway-${prefix}-`));
