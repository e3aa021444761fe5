/**
 * `slipway deploy`, `slipway rollback` and `slipway smoke`: an environment's settings from the source's
 * dotenv-flow files, its secrets as Dagger Secrets, the target's loopback endpoints as tunnels, then the deploy
 * and smoke modules.
 */
import { connection } from "@dagger.io/dagger";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { StageResult } from "../../modules/node/src/index.ts";
import { STRATEGIES, type Strategy } from "../../modules/deploy/src/index.ts";
import { useEngine } from "../platform/connection.ts";
import { waitForTools } from "../platform/tools.ts";
import { deployTo, rollbackOf, smokeOf } from "./deployments.ts";
import { loadEnvironment } from "./environments.ts";
import { commitOf } from "./git.ts";
import { exportReports } from "./stages.ts";
import { trustFor } from "./trust.ts";

export const DEPLOY_HELP = `Usage: slipway deploy --env NAME --image REPOSITORY@sha256:... [--public-key FILE] [--source DIR] [--strategy S] [--reports DIR]
       slipway rollback --env NAME [--source DIR]
       slipway smoke --env NAME [--source DIR] [--url URL] [--checks FILE] [--deadline SECONDS]

deploy: verifies the image's signature and attestations against the keys the environment trusts and what it
requires (\`slipway trust\`; --public-key: only that key, which must be one of them), then rolls it out to the environment's target
(.env.NAME in --source, default the current directory): a Docker host behind HAProxy with rolling, blue-green or
canary (${STRATEGIES.join(", ")}), each step gated on health and error rate, rolled back automatically when a
gate fails; or a GitOps repository (the digest committed into kustomization.yaml).
A deploy or rollback holds the environment's lock on its target (a second one fails at once, "locked by <run>");
Ctrl-C or SIGTERM mid-rollout returns the traffic to the stable version, then exits 130 (143); a run that died
(SIGKILL) is put right by the next deploy or rollback.
rollback: puts the last good version back, once it verifies as a deploy would. smoke: the HTTP checks of smoke.json against the environment's URL.
`;

async function print(r: StageResult, reports: string): Promise<number> {
  await exportReports(r, reports);
  process.stdout.write(`${r.output}${r.output && !r.output.endsWith("\n") ? "\n" : ""}${r.message}\n`);
  return r.status === "passed" ? 0 : 1;
}

export async function runDeploy(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      env: { type: "string" },
      image: { type: "string" },
      "public-key": { type: "string" },
      source: { type: "string", default: "." },
      strategy: { type: "string" },
      reports: { type: "string", default: "reports" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return (void process.stdout.write(DEPLOY_HELP), 0);
  if (!values.env) throw new Error("--env NAME is required: the environment to deploy to (staging, production)");
  if (!values.image) throw new Error("--image REPOSITORY@sha256:... is required: deploy what `slipway release` signed");
  const keyFile = values["public-key"];
  if (keyFile && !existsSync(keyFile)) throw new Error(`--public-key ${keyFile} does not exist: check the path`);
  const source = resolve(values.source!);
  const env = loadEnvironment(source, values.env);
  const publicKey = keyFile ? readFileSync(keyFile, "utf8") : undefined;
  trustFor(env.name, publicKey); // an untrusted key or an environment that trusts none: refused before anything starts
  if (values.strategy) {
    if (!STRATEGIES.includes(values.strategy as Strategy))
      throw new Error(`--strategy ${values.strategy} is not a strategy: use ${STRATEGIES.join(", ")}`);
    env.settings.strategy = values.strategy as Strategy;
  }
  await useEngine({ quiet: true, check: false });
  await waitForTools(["cosign"]); // deploy verifies first
  const revision = (await commitOf(source))?.revision ?? "";
  let code = 1;
  await connection(async () => {
    code = await print(await deployTo(env, values.image!, publicKey, revision), values.reports!);
  });
  return code;
}

export async function runRollback(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      env: { type: "string" },
      source: { type: "string", default: "." },
      reports: { type: "string", default: "reports" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return (void process.stdout.write(DEPLOY_HELP), 0);
  if (!values.env) throw new Error("--env NAME is required: the environment to roll back");
  const env = loadEnvironment(resolve(values.source!), values.env);
  if (env.target !== "docker-host") throw new Error(`rollback of a ${env.target} target: revert the deploy commit in ${env.gitops.remote}`);
  trustFor(env.name); // the previous version is verified first
  await useEngine({ quiet: true, check: false });
  await waitForTools(["cosign"]);
  let code = 1;
  await connection(async () => {
    code = await print(await rollbackOf(env), values.reports!);
  });
  return code;
}

export async function runSmoke(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      env: { type: "string" },
      source: { type: "string", default: "." },
      url: { type: "string" },
      checks: { type: "string" },
      deadline: { type: "string", default: "30" },
      reports: { type: "string", default: "reports" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return (void process.stdout.write(DEPLOY_HELP), 0);
  const source = resolve(values.source!);
  const env = values.env ? loadEnvironment(source, values.env) : undefined;
  const deadlineSeconds = Number(values.deadline);
  if (!(deadlineSeconds > 0)) throw new Error(`--deadline ${values.deadline} is not a number of seconds`);
  const run = smokeOf(source, env, { url: values.url, checks: values.checks, deadlineSeconds });
  await useEngine({ quiet: true, check: false });
  let code = 1;
  await connection(async () => {
    code = await print(await run(), values.reports!);
  });
  return code;
}
