/**
 * This project's pipeline: Slipway's golden path without the integration stage (this service has no
 * Testcontainers tests), a migration before each environment's deploy, end-to-end journeys against staging that
 * gate production, and a stricter scan on release branches. `npx slipway pipeline --source examples/team-pipeline`.
 */
import { definePipeline, goldenPath, stage, type StageContext, without } from "slipway";
import { dag, ReturnType } from "@dagger.io/dagger";
import { runJourneys } from "./e2e/journeys.ts";

/**
 * Runs scripts/migrate.ts against the environment's PostgreSQL (its DATABASE_URL secret), before its deploy. Staging's
 * also runs on a branch's preview run, against the preview's own database, before the preview's deploy.
 */
function migrate(environment: "staging" | "production", after: string[] = []) {
  return stage({
    name: `migrate-${environment}`,
    about: `the database migrations against ${environment}'s PostgreSQL`,
    // once the image verified; production's also waits for production's approval (skipped while it waits)
    needs: environment === "production" ? ["verify", "approval"] : ["verify"],
    after,
    before: [`deploy-${environment}`],
    previews: environment === "staging",
    async run(ctx: StageContext) {
      const env = ctx.environment(environment);
      const deps = dag
        .container()
        .from("node:22-bookworm-slim")
        .withDirectory("/app", ctx.source)
        .withWorkdir("/app")
        .withExec(["npm", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"]);
      const ctr = (await env.withUrl(deps, "DATABASE_URL", env.secrets.DATABASE_URL))
        // a migration acts on the database as it is now: never served from the engine's cache
        .withEnvVariable("MIGRATE_RUN", `${Date.now()}`)
        .withExec(["node", "--disable-warning=ExperimentalWarning", "scripts/migrate.ts"], { expect: ReturnType.Any });
      const [code, out] = await Promise.all([ctr.exitCode(), ctr.stdout()]);
      ctx.report("migrate.log", out);
      const failed = out.split("\n").find((l) => l.startsWith("migration "));
      if (code !== 0) return { status: "failed", message: failed ?? `scripts/migrate.ts exited with ${code}: see migrate.log` };
      const done = out.trim().split("\n").join("; ");
      return env.name === environment ? done : `${done} (${env.name})`;
    },
  });
}

const e2e = stage({
  name: "e2e",
  about: "end-to-end journeys against staging (e2e/journeys.ts), and against a branch's preview",
  needs: ["smoke-staging"],
  before: ["deploy-production"],
  previews: true,
  async run(ctx) {
    const target = ctx.environment("staging");
    const lines = await runJourneys(target.url, ctx.log);
    ctx.report("journeys.txt", lines.join("\n") + "\n");
    return `${lines.length} journey(s) against ${target.name}`;
  },
});

export default definePipeline({
  stages: [...without(goldenPath, "integration"), migrate("staging"), e2e, migrate("production", ["e2e"])],
  // release branches fail on medium findings too; everything else on high and critical (the default)
  scan: { branches: { "release/*": { failOn: "medium" } } },
});
