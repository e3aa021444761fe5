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
  const databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) throw new Error("DATABASE_URL is not set: e.g. postgres://user:password@host:5432/db");
  return { port, host: env.HOST ?? "0.0.0.0", databaseUrl, logLevel: env.LOG_LEVEL ?? "info" };
}
