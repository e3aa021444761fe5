/** The HTTP API: /health reports the database, /notes reads and writes notes, /metrics is for Prometheus. */
import Fastify, { type FastifyInstance } from "fastify";
import type { Pool } from "pg";
import { addMetrics } from "./metrics.js";
import { Notes } from "./notes.js";

export function buildApp(pool: Pool, opts: { logLevel?: string } = {}): FastifyInstance {
  // structured JSON logs (pino), one line per request
  const app = Fastify({ logger: { level: opts.logLevel ?? "info" } });
  const notes = new Notes(pool);
  addMetrics(app);

  app.get("/health", async (_req, reply) => {
    try {
      await pool.query("SELECT 1");
      return { status: "ok", database: "up" };
    } catch (err) {
      app.log.warn({ err }, "health: database unreachable");
      return reply.code(503).send({ status: "degraded", database: "down" });
    }
  });

  app.get("/notes", async () => notes.list());

  app.post<{ Body: { text?: unknown } }>("/notes", async (req, reply) => {
    try {
      return reply.code(201).send(await notes.add(req.body?.text as string));
    } catch (err) {
      if (err instanceof RangeError) return reply.code(400).send({ error: err.message });
      throw err;
    }
  });

  app.addHook("onReady", async () => notes.migrate());
  return app;
}
