/**
 * How slipway, the tests and any script reach the engine: `engine up` writes the connection settings to the
 * machine cache; `useEngine()` loads them into this process (unless a session already exists, e.g. under
 * `dagger run`), bringing the engine up first when it does not answer.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { engineContainerRunning } from "./engine.ts";
import { ensureDir, paths } from "./host.ts";


export function writeConnection(env: Record<string, string>): void {
  ensureDir(paths.cache);
  const lines = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  writeFileSync(paths.connection, `# written by \`slipway engine up\`; \`set -a; . ${paths.connection}\` in a shell\n${lines.join("\n")}\n`);
}

export function readConnection(): Record<string, string> | undefined {
  if (!existsSync(paths.connection)) return undefined;
  const env: Record<string, string> = {};
  for (const line of readFileSync(paths.connection, "utf8").split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  return env;
}

/** True when this process already has an engine session (dagger run, or settings the user exported). */
export function hasExplicitEngine(): boolean {
  return Boolean(process.env.DAGGER_SESSION_PORT || process.env._EXPERIMENTAL_DAGGER_CLI_BIN);
}

/** Loads connection settings into process.env, running `engine up` when needed. Returns how it connected. */
export async function useEngine(opts: { quiet?: boolean; check?: boolean } = {}): Promise<string> {
  if (hasExplicitEngine()) return "the session or CLI set in the environment";
  const saved = readConnection();
  if (saved && opts.check === false && (await engineContainerRunning())) {
    Object.assign(process.env, saved);
    return `${saved._EXPERIMENTAL_DAGGER_RUNNER_HOST}`;
  }
  const { up } = await import("./up.ts");
  await up({ quiet: opts.quiet });
  Object.assign(process.env, readConnection());
  return `${process.env._EXPERIMENTAL_DAGGER_RUNNER_HOST}`;
}
