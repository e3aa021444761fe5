/** The connection settings `engine up` writes to the machine cache (engine.env), for slipway, the tests and a shell. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { ensureDir, paths } from "./host.ts";

export function writeConnection(env: Record<string, string>): void {
  ensureDir(paths.cache);
  const lines = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  writeFileSync(
    paths.connection,
    `# written by \`slipway engine up\`; \`set -a; . ${paths.connection}\` in a shell\n${lines.join("\n")}\n`,
  );
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
