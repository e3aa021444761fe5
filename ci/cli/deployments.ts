/**
 * An environment's deploy, rollback and smoke as the deploy and smoke modules run them: the one path behind
 * `slipway deploy|rollback|smoke` and the pipeline's deploy and smoke stages. The environment, validated once
 * from its dotenv files (environments.ts), becomes the deploy module's DeployEnvironment (a typed value built with
 * withX()); its secrets become Dagger Secrets; endpoints on this host's loopback become tunnels.
 */
import { dag, type File, type Secret, type Service } from "@dagger.io/dagger";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Deploy, type DeployEnvironment } from "../../modules/deploy/src/index.ts";
import type { StageResult } from "../../modules/node/src/index.ts";
import { parseChecks, Smoke } from "../../modules/smoke/src/index.ts";
import { type Environment, secretValue } from "./environments.ts";
import { hostTunnel } from "./stages.ts";

/** A host-side endpoint on loopback, tunnelled for the containers that reach it. */
export function loopback(url: string): Service | undefined {
  if (!URL.canParse(url.replace(/^tcp:/, "http:"))) return undefined; // not a host:port (e.g. "node-api:latest"): nothing to tunnel
  const u = new URL(url.replace(/^tcp:/, "http:"));
  return u.hostname === "127.0.0.1" || u.hostname === "localhost" ? hostTunnel(u.hostname, Number(u.port || 80)) : undefined;
}

/** An environment's secrets as Dagger Secrets by variable name, named by content (the engine tells secrets apart by name). */
export function environmentSecrets(env: Environment): [string, Secret][] {
  return Object.entries(env.secrets).map(([name, ref]) => {
    const value = secretValue(name, ref);
    return [name, dag.setSecret(`${env.name}-${name}-${createHash("sha256").update(value).digest("hex").slice(0, 16)}`, value)];
  });
}

/** The environment as the deploy module's typed value: its settings, secrets and target. */
export function deployEnvironment(env: Environment, registry?: Service): DeployEnvironment {
  const s = env.settings;
  let d = new Deploy()
    .environment(env.name, s.app)
    .withStrategy(s.strategy)
    .withReplicas(s.replicas)
    .withHealthCheck(s.healthPath, s.healthTimeoutSeconds)
    .withGate(s.windowSeconds, s.maxErrorRate)
    .withCanarySteps(s.canarySteps);
  for (const [name, value] of Object.entries(s.env)) d = d.withEnvVariable(name, value);
  for (const [name, secret] of environmentSecrets(env)) d = d.withSecretVariable(name, secret);
  if (registry) d = d.withRegistry(registry);
  if (env.target === "gitops") {
    const git = loopback(env.gitops.remote.replace(/^git:/, "http:")); // undefined unless the remote is on loopback
    const token = process.env.SLIPWAY_GITOPS_TOKEN ? dag.setSecret("gitops-token", process.env.SLIPWAY_GITOPS_TOKEN) : undefined;
    return d.withGitops(env.gitops.remote, env.gitops.path, env.gitops.branch, git, token);
  }
  const docker = loopback(env.dockerHost);
  if (!docker) {
    throw new Error(
      `SLIPWAY_DOCKER_HOST=${env.dockerHost} (${env.files.join(", ")}): only engines on this host's loopback are reachable from here (tcp://127.0.0.1:PORT)`,
    );
  }
  return d.withDockerHost(docker, hostTunnel("127.0.0.1", s.adminPort), s.listen, s.adminPort, s.appPort);
}

/** Starts the local targets when an environment points at them (the embedded defaults), as `targets up` does. */
async function ensureLocalTargets(env: Environment): Promise<void> {
  const { LOCAL_TARGETS, targetsUp } = await import("../platform/targets.ts");
  if (Object.values(LOCAL_TARGETS).some((t) => env.dockerHost === `tcp://127.0.0.1:${t.dockerPort}`)) await targetsUp(true);
}

/** Verifies image against publicKey and deploys it to the environment; registry: the image's registry, tunnelled. */
export async function deployTo(env: Environment, image: string, publicKey: File, revision: string): Promise<StageResult> {
  await ensureLocalTargets(env);
  return deployEnvironment(env, loopback(`http://${image.split("/")[0]}`)).deploy(image, publicKey, revision);
}

/** Puts the environment's last good version back. */
export async function rollbackOf(env: Environment): Promise<StageResult> {
  await ensureLocalTargets(env);
  return deployEnvironment(env).rollback();
}

export interface SmokeOptions {
  /** the URL to check (default: the environment's SLIPWAY_URL) */
  url?: string;
  /** the checks file (default: the environment's SLIPWAY_SMOKE_CHECKS, else <source>/smoke.json) */
  checks?: string;
  deadlineSeconds?: number;
}

/**
 * The smoke checks against the environment's URL (or opts.url), checked now (a missing URL or a bad checks file is
 * an error naming it, before any engine work) and run when the returned function is called.
 */
export function smokeOf(source: string, env: Environment | undefined, opts: SmokeOptions = {}): () => Promise<StageResult> {
  const url = opts.url ?? env?.url;
  if (!url)
    throw new Error(
      env
        ? `no SLIPWAY_URL for ${env.name} (${env.files.join(", ")}): add it, or pass --url URL`
        : "smoke needs --env NAME (its SLIPWAY_URL) or --url URL",
    );
  const file = opts.checks ? resolve(opts.checks) : (env?.smokeChecks ?? resolve(source, "smoke.json"));
  if (!existsSync(file))
    throw new Error(`${file} does not exist: write the checks as [{"name": "health", "path": "/health", "status": 200}]`);
  const checks = readFileSync(file, "utf8");
  parseChecks(checks, file);
  return () => new Smoke().run(url, checks, opts.deadlineSeconds ?? 30, loopback(url));
}
