/**
 * `slipway deploy`, `slipway rollback` and `slipway smoke`: an environment's settings from the source's
 * dotenv-flow files, its secrets as Dagger Secrets, the target's loopback endpoints as tunnels, then the deploy
 * and smoke modules.
 */
import { connection, dag } from "@dagger.io/dagger";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { StageResult } from "../../modules/node/src/index.ts";
import { Deploy, STRATEGIES, type Strategy } from "../../modules/deploy/src/index.ts";
import { parseChecks, Smoke } from "../../modules/smoke/src/index.ts";
import { useEngine } from "../platform/connection.ts";
import { type Environment, loadEnvironment } from "./environments.ts";
import { environmentSecrets, loopback } from "./pipeline.ts";
import { commitOf } from "./git.ts";
import { exportReports, hostTunnel } from "./stages.ts";

const EXAMPLE = join(import.meta.dirname, "../../examples/node-api");

export const DEPLOY_HELP = `Usage: slipway deploy --env NAME --image REPOSITORY@sha256:... --public-key FILE [--source DIR] [--strategy S] [--reports DIR]
       slipway rollback --env NAME [--source DIR]
       slipway smoke --env NAME [--source DIR] [--url URL] [--checks FILE] [--deadline SECONDS]

deploy: verifies the image's signature and attestations, then rolls it out to the environment's target
(.env.NAME in --source, default examples/node-api): a Docker host behind HAProxy with rolling, blue-green or
canary (${STRATEGIES.join(", ")}), each step gated on health and error rate, rolled back automatically when a
gate fails; or a GitOps repository (the digest committed into kustomization.yaml).
rollback: puts the last good version back. smoke: the HTTP checks of smoke.json against the environment's URL.
`;

function dockerTarget(env: Environment) {
  const docker = loopback(env.dockerHost);
  const admin = hostTunnel("127.0.0.1", env.settings.adminPort);
  if (!docker) throw new Error(`SLIPWAY_DOCKER_HOST=${env.dockerHost}: only engines on this host's loopback are reachable from here (tcp://127.0.0.1:PORT)`);
  return { docker, admin };
}

async function print(r: StageResult, reports: string): Promise<number> {
  await exportReports(r, reports);
  process.stdout.write(`${r.output}${r.output && !r.output.endsWith("\n") ? "\n" : ""}${r.message}\n`);
  return r.status === "passed" ? 0 : 1;
}

export async function runDeploy(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      env: { type: "string" }, image: { type: "string" }, "public-key": { type: "string" }, source: { type: "string", default: EXAMPLE },
      strategy: { type: "string" }, reports: { type: "string", default: "reports" }, help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return void process.stdout.write(DEPLOY_HELP), 0;
  if (!values.env) throw new Error("--env NAME is required: the environment to deploy to (staging, production)");
  if (!values.image) throw new Error("--image REPOSITORY@sha256:... is required: deploy what `slipway release` signed");
  if (!values["public-key"]) throw new Error("--public-key FILE is required: deploys are verified against it (cosign.pub)");
  if (!existsSync(values["public-key"])) throw new Error(`--public-key ${values["public-key"]} does not exist: check the path`);
  const source = resolve(values.source!);
  const env = loadEnvironment(source, values.env);
  if (values.strategy) {
    if (!STRATEGIES.includes(values.strategy as Strategy)) throw new Error(`--strategy ${values.strategy} is not a strategy: use ${STRATEGIES.join(", ")}`);
    env.settings.strategy = values.strategy as Strategy;
  }
  await useEngine({ quiet: true, check: false });
  let code = 1;
  await connection(async () => {
    const key = dag.directory().withNewFile("cosign.pub", readFileSync(values["public-key"]!, "utf8")).file("cosign.pub");
    const registry = loopback(`http://${values.image!.split("/")[0]}`);
    const deploy = new Deploy();
    let result: StageResult;
    if (env.target === "gitops") {
      const commit = await commitOf(source);
      const token = process.env.SLIPWAY_GITOPS_TOKEN ? dag.setSecret("gitops-token", process.env.SLIPWAY_GITOPS_TOKEN) : undefined;
      const git = /^(git|https?):\/\/(127\.0\.0\.1|localhost)/.test(env.gitops.remote) ? loopback(env.gitops.remote.replace(/^git:/, "http:")) : undefined;
      result = await deploy.gitops(values.image!, key, env.gitops.remote, env.name, commit?.revision ?? "", env.gitops.name, env.gitops.path, env.gitops.branch, git, token, registry);
    } else {
      const { docker, admin } = dockerTarget(env);
      result = await deploy.dockerHost(values.image!, key, docker, admin, JSON.stringify(env.settings), environmentSecrets(env), registry);
    }
    code = await print(result, values.reports!);
  });
  return code;
}

export async function runRollback(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { env: { type: "string" }, source: { type: "string", default: EXAMPLE }, reports: { type: "string", default: "reports" }, help: { type: "boolean", short: "h" } } });
  if (values.help) return void process.stdout.write(DEPLOY_HELP), 0;
  if (!values.env) throw new Error("--env NAME is required: the environment to roll back");
  const env = loadEnvironment(resolve(values.source!), values.env);
  if (env.target !== "docker-host") throw new Error(`rollback of a ${env.target} target: revert the deploy commit in ${env.gitops.remote}`);
  await useEngine({ quiet: true, check: false });
  let code = 1;
  await connection(async () => {
    const { docker, admin } = dockerTarget(env);
    code = await print(await new Deploy().rollback(docker, admin, JSON.stringify(env.settings), environmentSecrets(env)), values.reports!);
  });
  return code;
}

export async function runSmoke(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      env: { type: "string" }, source: { type: "string", default: EXAMPLE }, url: { type: "string" }, checks: { type: "string" },
      deadline: { type: "string", default: "30" }, reports: { type: "string", default: "reports" }, help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return void process.stdout.write(DEPLOY_HELP), 0;
  const source = resolve(values.source!);
  const env = values.env ? loadEnvironment(source, values.env) : undefined;
  const url = values.url ?? env?.url;
  if (!url) throw new Error("smoke needs --env NAME (its SLIPWAY_URL) or --url URL");
  const checksFile = values.checks ? resolve(values.checks) : env?.smokeChecks ?? resolve(source, "smoke.json");
  if (!existsSync(checksFile)) throw new Error(`${checksFile} does not exist: write the checks as [{"name": "health", "path": "/health", "status": 200}]`);
  const checks = readFileSync(checksFile, "utf8");
  parseChecks(checks, checksFile); // errors name the file
  const deadline = Number(values.deadline);
  if (!(deadline > 0)) throw new Error(`--deadline ${values.deadline} is not a number of seconds`);
  await useEngine({ quiet: true, check: false });
  let code = 1;
  await connection(async () => {
    code = await print(await new Smoke().run(url, checks, deadline, loopback(url)), values.reports!);
  });
  return code;
}
