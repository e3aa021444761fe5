import { readFileSync } from "node:fs";

/** Configuration from the environment, checked once at start-up. */
export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  logLevel: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`PORT="${env.PORT}" is not a port number (1-65535)`);
  }
  const databaseUrl = secret(env, "DATABASE_URL");
  if (!databaseUrl) throw new Error("DATABASE_URL is not set: e.g. postgres://user:password@host:5432/db (or DATABASE_URL_FILE naming a file)");
  return { port, host: env.HOST ?? "0.0.0.0", databaseUrl, logLevel: env.LOG_LEVEL ?? "info" };
}

/**
 * A secret from NAME, or from the file NAME_FILE names (the Docker secrets convention: the deploy writes secrets
 * to /run/secrets/<NAME>, so they never show in the container's environment).
 */
function secret(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const file = env[`${name}_FILE`];
  if (!file) return env[name];
  try {
    return readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new Error(`${name}_FILE=${file} cannot be read (${(err as NodeJS.ErrnoException).code}): check the secret file`, { cause: err });
  }
}
