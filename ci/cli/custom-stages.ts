/**
 * The stages of a team's slipway.config.ts as the pipeline runs them: each gets the typed context of the pipeline
 * API (ci/src/api.ts): the run's Dagger client and source, the image once built, the project's environments with
 * their secrets as Dagger Secrets, its own reports directory and a progress line.
 */
import { dag, type Container, type Directory, type Secret } from "@dagger.io/dagger";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Stage, StageContext, StageEnvironment } from "../src/api.ts";
import type { StageRun } from "../src/dag.ts";
import { environmentSecrets, loopback } from "./deployments.ts";
import { type Environment, loadEnvironment } from "./environments.ts";

/** What a run's custom stages read of it (the pipeline's RunContext has these). */
export interface CustomStageRun {
  source: string;
  reports: string;
  dir: Directory;
  published?: { ref: string };
  environments: Record<string, Environment>;
}

/** A URL's value as a container reaches it: a host on this host's loopback becomes a tunnel's alias. */
function reached(ctr: Container, url: string): { ctr: Container; url: string } {
  if (!URL.canParse(url)) return { ctr, url };
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
  const tunnel = loopback(`http://${u.hostname}:${port}`);
  if (!tunnel) return { ctr, url };
  const alias = `host-${port}`;
  u.hostname = alias;
  return { ctr: ctr.withServiceBinding(alias, tunnel), url: u.toString() };
}

/** The pipeline API's view of environment name. */
function stageEnvironment(ctx: CustomStageRun, name: string): StageEnvironment {
  const env = (ctx.environments[name] ??= loadEnvironment(ctx.source, name));
  const secrets: Record<string, Secret> = Object.fromEntries(environmentSecrets(env));
  return {
    name: env.name,
    url: env.url,
    variables: { ...env.settings.env },
    secrets,
    async withUrl(ctr: Container, variable: string, url: string | Secret): Promise<Container> {
      if (typeof url === "string") {
        const r = reached(ctr, url);
        return r.ctr.withEnvVariable(variable, r.url);
      }
      // a secret URL is rewritten in this process (which read it from its file) and passed on as a new secret
      const plain = await url.plaintext();
      const r = reached(ctr, plain);
      if (r.url === plain) return ctr.withSecretVariable(variable, url);
      const id = createHash("sha256").update(r.url).digest("hex").slice(0, 16);
      return r.ctr.withSecretVariable(variable, dag.setSecret(`${name}-${variable}-${id}`, r.url));
    },
  };
}

/**
 * The runner of a stage of the team's own: its outcome as a report line; a throw fails it with the error's message.
 * stagingIs: the environment the stage gets when it asks for staging (a preview run's stage marked `previews`: "preview").
 */
export function customRunner(stage: Stage, ctx: CustomStageRun, branch: string, say: (line: string) => void, stagingIs = "staging") {
  return async (): Promise<Omit<StageRun, "seconds">> => {
    const dir = resolve(ctx.reports, stage.name);
    const context: StageContext = {
      dag,
      source: ctx.dir,
      sourcePath: ctx.source,
      image: ctx.published?.ref,
      branch,
      environment: (name) => stageEnvironment(ctx, name === "staging" ? stagingIs : name),
      report(file, contents) {
        const path = resolve(dir, file);
        if (!path.startsWith(`${dir}/`))
          throw new Error(`report file ${JSON.stringify(file)} is outside the stage's reports: name a file in it`);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, contents);
      },
      log: (line) => say(`${stage.name}: ${line}`),
    };
    const out = await stage.run!(context);
    const result = typeof out === "object" && out ? out : { status: "passed" as const, message: out ?? "" };
    if (result.status !== "passed" && result.status !== "failed")
      throw new Error(`its run returned status ${JSON.stringify(result.status)}: return "passed" or "failed", or throw`);
    const message = `${stage.name}: ${result.status}${result.message ? `, ${result.message}` : ""}`;
    return { stage: stage.name, status: result.status, message, cached: null };
  };
}
