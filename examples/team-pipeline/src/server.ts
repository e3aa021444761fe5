/** Entry point: configuration from the environment, graceful shutdown on SIGTERM and SIGINT. */
import pg from "pg";
import { buildApp } from "./app.js";
import { loadConfig } from "./config.js";

const config = loadConfig();
const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10 });
const app = buildApp(pool, { logLevel: config.logLevel });

let closing = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, "shutting down: draining connections");
    app.close()
      .then(() => pool.end())
      .then(() => process.exit(0))
      .catch((err) => {
        app.log.error({ err }, "shutdown failed");
        process.exit(1);
      });
  });
}

await app.listen({ port: config.port, host: config.host });
