/** What the end-to-end tests share: the slipway CLI as a user runs it, and edited copies of the example. */
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "../..");
export const CLI = join(ROOT, "ci/bin/slipway.js");
export const EXAMPLE = join(ROOT, "examples/node-api");

/** Runs the CLI without blocking the test worker; resolves with the exit code and all output. */
export function slipway(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 600_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

/** A copy of the example without node_modules, with `edit` applied to one file. */
export function copyWith(file: string, edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), "slipway-example-"));
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/node_modules|reports|dist/.test(src.slice(EXAMPLE.length)) });
  writeFileSync(join(dir, file), edit(readFileSync(join(dir, file), "utf8")));
  return dir;
}

export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), `slipway-${prefix}-`));
