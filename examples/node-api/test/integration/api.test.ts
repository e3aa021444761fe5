/** The API against a real PostgreSQL started by Testcontainers. */
import { PostgreSqlContainer, type StartedPostgreSqlContainer } from "@testcontainers/postgresql";
import type { FastifyInstance } from "fastify";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";

let db: StartedPostgreSqlContainer;
let pool: pg.Pool;
let app: FastifyInstance;

beforeAll(async () => {
  db = await new PostgreSqlContainer("postgres:15").start();
  pool = new pg.Pool({ connectionString: db.getConnectionUri() });
  app = buildApp(pool, { logLevel: "silent" });
  await app.ready();
}, 180_000);

afterAll(async () => {
  await app?.close();
  await pool?.end();
  await db?.stop();
});

describe("notes API on PostgreSQL", () => {
  it("reports the database as up", async () => {
    const r = await app.inject({ method: "GET", url: "/health" });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ status: "ok", database: "up" });
  });

  it("stores a note and lists it", async () => {
    const created = await app.inject({ method: "POST", url: "/notes", payload: { text: "ship it" } });
    expect(created.statusCode).toBe(201);
    const list = await app.inject({ method: "GET", url: "/notes" });
    expect(list.json()[0]).toMatchObject({ id: created.json().id, text: "ship it" });
  });

  it("refuses an empty note with 400", async () => {
    const r = await app.inject({ method: "POST", url: "/notes", payload: { text: " " } });
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toMatch(/must not be empty/);
  });
});
