/**
 * Applies migrations/*.sql in name order to DATABASE_URL, each once (recorded in team_schema_migrations) and each in
 * its own transaction: a failing one is rolled back, named, and stops the run (exit 1) with the ones before it kept.
 * Run by the pipeline's migrate stages before each deploy (`npm run migrate` by hand).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";

const dir = join(import.meta.dirname, "../migrations");
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
try {
  await client.query("CREATE TABLE IF NOT EXISTS team_schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
  const done = new Set((await client.query<{ name: string }>("SELECT name FROM team_schema_migrations")).rows.map((r) => r.name));
  const pending = readdirSync(dir)
    .filter((f) => f.endsWith(".sql") && !done.has(f))
    .sort();
  for (const name of pending) {
    try {
      await client.query("BEGIN");
      await client.query(readFileSync(join(dir, name), "utf8"));
      await client.query("INSERT INTO team_schema_migrations (name) VALUES ($1)", [name]);
      await client.query("COMMIT");
      console.log(`applied ${name}`);
    } catch (err) {
      await client.query("ROLLBACK");
      console.log(`migration ${name} failed: ${(err as Error).message}`);
      process.exitCode = 1;
      break;
    }
  }
  if (!pending.length) console.log(`up to date (${done.size} applied)`);
} finally {
  await client.end();
}
