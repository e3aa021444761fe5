/**
 * An environment's deploy, rollback and smoke as the deploy and smoke modules run them: the one path behind
 * `slipway deploy|rollback|smoke` and the pipeline's deploy and smoke stages. The environment, validated once
 * from its dotenv files (environments.ts), becomes the deploy module's DeployEnvironment (a typed value built with
 * withX()); its secrets become Dagger Secrets; the target's Docker API socket becomes a Dagger Socket; endpoints
 * on this host's loopback become tunnels.
 */
import { connection, dag, type Secret, type Service } from "@dagger.io/dagger";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { resolve } from "node:path";
import { Deploy, type DeployEnvironment } from "../../modules/deploy/src/index.ts";
import type { StageResult } from "../../modules/node/src/index.ts";
import { parseChecks, smokeFromHere } from "../../modules/smoke/src/index.ts";
import { type Environment, secretValue } from "./environments.ts";
import { hostTunnel } from "./stages.ts";
import { trustFor } from "./trust.ts";

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
  if (s.metrics) d = d.withPrometheusGates(s.metrics.errorQuery, s.metrics.latencyQuery, s.metrics.maxP99Seconds);
  for (const [name, value] of Object.entries(s.env)) d = d.withEnvVariable(name, value);
  for (const [name, secret] of environmentSecrets(env)) d = d.withSecretVariable(name, secret);
  if (registry) d = d.withRegistry(registry);
  if (env.target === "gitops") {
    const git = loopback(env.gitops.remote.replace(/^git:/, "http:")); // undefined unless the remote is on loopback
    const token = process.env.SLIPWAY_GITOPS_TOKEN ? dag.setSecret("gitops-token", process.env.SLIPWAY_GITOPS_TOKEN) : undefined;
    return d.withGitops(env.gitops.remote, env.gitops.path, env.gitops.branch, git, token);
  }
  if (env.ssh) {
    const secret = (what: string, ref: string) => {
      const value = secretValue(`${env.name} ${what}`, ref, true);
      return dag.setSecret(`${env.name}-${what}-${createHash("sha256").update(value).digest("hex").slice(0, 16)}`, `${value}\n`);
    };
    return d.withSshHost(
      env.dockerHost,
      secret("ssh-key", env.ssh.key),
      secret("ssh-known-hosts", env.ssh.knownHosts),
      s.listen,
      s.appPort,
    );
  }
  const path = env.dockerHost.replace(/^unix:\/\//, "");
  if (!existsSync(path)) {
    throw new Error(
      `SLIPWAY_DOCKER_HOST=${env.dockerHost} (${env.files.join(", ")}): no such socket on this host: start the target's Docker engine (local targets: npx slipway targets up)`,
    );
  }
  // the socket is on this host: a deploy of what already serves is seen without starting a container
  return d.withDockerHost(dag.host().unixSocket(path), s.listen, s.appPort).withLocalSocket(path);
}

/**
 * Starts the local targets when an environment points at them (the embedded defaults), as `targets up` does; the
 * SSH test host as `targets up ssh-host` does.
 */
export async function ensureLocalTargets(env: Environment): Promise<void> {
  const { LOCAL_TARGETS, targetSocket, targetsUp } = await import("../platform/targets.ts");
  const local = (Object.keys(LOCAL_TARGETS) as (keyof typeof LOCAL_TARGETS)[]).map((t) => `unix://${targetSocket(t)}`);
  if (local.includes(env.dockerHost)) await targetsUp(true);
  const { SSH_HOST_URL, sshHostUp } = await import("../platform/ssh-host.ts");
  if (env.dockerHost === SSH_HOST_URL) await sshHostUp(true);
}

/**
 * The environment's trust (trust.ts), on its deploy value: the keys it accepts, each for its sources, and what it
 * requires. publicKey (PEM): only that key, which the environment must trust.
 */
function withTrust(d: DeployEnvironment, env: Environment, publicKey?: string): DeployEnvironment {
  const { keys, requires } = trustFor(env.trustAs ?? env.name, publicKey);
  for (const k of keys) d = d.withTrustedKey(dag.directory().withNewFile("cosign.pub", k.publicKey).file("cosign.pub"), k.sources);
  return d.withRequirements(requires);
}

/**
 * This process's run, as the target's lock names it: SLIPWAY_RUN_ID, else the CI job (GitHub Actions, GitLab CI),
 * else user@host:pid.
 */
export function runId(env: NodeJS.ProcessEnv = process.env, pid = process.pid): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9._@:+-]/g, "-").slice(0, 100);
  if (env.SLIPWAY_RUN_ID) return clean(env.SLIPWAY_RUN_ID);
  if (env.GITHUB_RUN_ID) return clean(`github:${env.GITHUB_REPOSITORY ?? ""}:${env.GITHUB_RUN_ID}.${env.GITHUB_RUN_ATTEMPT ?? "1"}`);
  if (env.CI_JOB_ID) return clean(`gitlab:${env.CI_PROJECT_PATH ?? ""}:${env.CI_JOB_ID}`);
  let user = "user";
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry for this uid
  }
  return clean(`${user}@${hostname()}:${pid}`);
}

const RUN = runId();
const noop = () => undefined;

/**
 * Runs a deploy or rollback so that SIGINT/SIGTERM does not leave it half done: on a signal the run's recovery
 * (DeployEnvironment.recover) takes over its lock, returns the traffic to the stable version and removes the
 * half-started replicas, on this engine session (which runs in a process group of its own, so a Ctrl-C does not
 * end it: connection.ts, ownSession), or on a new one when the session ended anyway; then the process exits 130
 * (SIGINT) or 143 (SIGTERM) with one line saying what it restored.
 * A second signal during the recovery exits at once, leaving it to the next run.
 */
async function interruptible(env: Environment, d: DeployEnvironment, work: () => Promise<StageResult>): Promise<StageResult> {
  if (env.target !== "docker-host") return work();
  let signalled: (sig: NodeJS.Signals) => void = () => undefined;
  const signal = new Promise<NodeJS.Signals>((resolve) => (signalled = resolve));
  process.once("SIGINT", signalled);
  process.once("SIGTERM", signalled);
  const job = work();
  job.catch(() => undefined); // after a signal its outcome no longer matters (the session may end under it)
  let first: { result: StageResult } | { sig: NodeJS.Signals };
  // should the signal end the engine session too, the job can fail a moment before node handles the signal, so a
  // failure waits briefly for one before it counts as the deploy's own
  const settled = job.then(
    (result) => ({ result }),
    async (err: unknown) => {
      const sig = await Promise.race([signal, new Promise<undefined>((r) => setTimeout(r, 2000))]);
      if (sig) return { sig };
      throw err;
    },
  );
  try {
    first = await Promise.race([settled, signal.then((sig) => ({ sig }))]);
  } finally {
    process.off("SIGINT", signalled);
    process.off("SIGTERM", signalled);
  }
  if ("result" in first) return first.result;
  const code = first.sig === "SIGINT" ? 130 : 143;
  const again = () => {
    process.stdout.write(
      `deploy ${env.name}: interrupted again during the recovery: the next deploy or rollback restores the stable version\n`,
    );
    process.exit(code);
  };
  process.once("SIGINT", again);
  process.once("SIGTERM", again);
  let line: string;
  try {
    line = (await d.recover()).message;
    // the interrupted controller stops at its next look at the lock, which the recovery took: its container ends
    // before this session does (a container reaching for the socket of an ended session crashes the engine)
    await Promise.race([job.then(noop, noop), new Promise((r) => setTimeout(r, 30_000).unref())]);
  } catch {
    // the signal ended this engine session too: recover on a new one (the lock names this run, not the session)
    line = await new Promise<string>((resolve, reject) => {
      connection(async () => resolve((await deployEnvironment(env).withRun(RUN).recover()).message)).catch(reject);
    }).catch(
      (err: Error) =>
        `deploy ${env.name}: interrupted, and the recovery failed (${err.message.split("\n")[0]}): the next deploy or rollback restores the stable version`,
    );
  }
  process.stdout.write(`${line.replace(/^deploy (\S+): /, `deploy $1: interrupted (${first.sig}); `)}\n`);
  process.exit(code);
}

/**
 * Verifies image against the environment's trust and deploys it; publicKey (PEM): the key it was signed with,
 * which the environment must trust. The image's registry is tunnelled when it is on this host's loopback. On
 * SIGINT/SIGTERM mid-rollout the traffic goes back to the stable version before the process exits (interruptible).
 */
export async function deployTo(env: Environment, image: string, publicKey: string | undefined, revision: string): Promise<StageResult> {
  await ensureLocalTargets(env);
  const d = withTrust(deployEnvironment(env, loopback(`http://${image.split("/")[0]}`)), env, publicKey);
  const run = env.target === "docker-host" ? d.withRun(RUN) : d;
  return interruptible(env, run, () => run.deploy(image, undefined, revision));
}

/** Puts the environment's last good version back, verified against its trust first; interruptible as deployTo. */
export async function rollbackOf(env: Environment): Promise<StageResult> {
  await ensureLocalTargets(env);
  const registry = env.target === "docker-host" ? loopback(`http://${process.env.SLIPWAY_REGISTRY ?? ""}`) : undefined;
  const d = withTrust(deployEnvironment(env, registry), env);
  const run = env.target === "docker-host" ? d.withRun(RUN) : d;
  return interruptible(env, run, () => run.rollback());
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
  // from this process, on the host the URL is reached from: no container to start, no tunnel
  return () => smokeFromHere(url, checks, opts.deadlineSeconds ?? 30);
}
