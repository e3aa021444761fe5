/** What the tests share: commands as a user runs them, copies of the example, the repository's source files. */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
export function copyExample(dir = tempDir("example")): string {
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

const made: string[] = [];

/** A new temporary directory, removed when the test file ends (removeTempDirs; SLIPWAY_KEEP_TEMP=1 keeps them). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `slipway-${prefix}-`));
  made.push(dir);
  return dir;
}

/** Removes the temporary directories this test file made (ci/test/engine-env.ts calls it after each file). */
export function removeTempDirs(): void {
  if (process.env.SLIPWAY_KEEP_TEMP === "1") return;
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * Copies of the example for deploy tests, each a version of its own: v2 (a changed file), broken (/notes answers
 * 500, /health stays fine) and slow (/notes answers 300 ms later).
 */
export function exampleVersions(): { v2: string; broken: string; slow: string } {
  const notes = 'app.get("/notes", async () => notes.list());';
  const edited = (replacement: string) =>
    copyWith("src/app.ts", (t) => {
      if (!t.includes(notes)) throw new Error(`examples/node-api/src/app.ts no longer has ${notes}: update exampleVersions`);
      return t.replace(notes, replacement);
    });
  return {
    v2: copyWith("src/notes.ts", (t) => `${t}\nexport const version = 2;\n`),
    broken: edited('app.get("/notes", async (_req, reply) => reply.code(500).send({ error: "deliberately broken" }));'),
    slow: edited('app.get("/notes", async () => (await new Promise((r) => setTimeout(r, 300)), notes.list()));'),
  };
}

/** `slipway release`'s arguments for source signed with keys/cosign.key (its password in the variable passwordEnv), scanned against the fixture advisories. */
export const releaseArgs = (source: string, keys: string, passwordEnv: string, ...extra: string[]): string[] => [
  "release",
  "--source",
  source,
  "--key",
  join(keys, "cosign.key"),
  "--password-env",
  passwordEnv,
  "--vuln-db",
  join(ROOT, "ci/test/fixtures/osv"),
  "--reports",
  tempDir("reports"),
  ...extra,
];

/** That release run (releaseArgs); the published repository@sha256 reference, or an error with the output. */
export async function releaseImage(source: string, keys: string, passwordEnv: string, ...extra: string[]): Promise<string> {
  const r = await slipway(...releaseArgs(source, keys, passwordEnv, ...extra));
  const m = /^publish: (\S+@sha256:[0-9a-f]{64})$/m.exec(r.out);
  if (r.code !== 0 || !m) throw new Error(`slipway release of ${source} failed (exit ${r.code}):\n${r.out}`);
  return m[1];
}
