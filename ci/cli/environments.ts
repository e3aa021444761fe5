/**
 * Deploy environments from dotenv-flow files in the source (.env, .env.local, .env.<environment>,
 * .env.<environment>.local): the target, URLs, strategy and gate thresholds as SLIPWAY_* settings; the app's
 * plain variables as SLIPWAY_APP_ENV_<NAME>; its secrets as SLIPWAY_APP_SECRET_<NAME>=env:VAR or file:PATH,
 * resolved on the host into Dagger Secrets (a literal value is refused).
 */
import dotenvFlow from "dotenv-flow";
import { existsSync, readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { type DeploySettings, parseDuration, parseSteps, STRATEGIES, type Strategy } from "../../modules/deploy/src/plan.ts";

export interface Environment {
  name: string;
  files: string[];
  target: "docker-host" | "gitops";
  url: string;
  dockerHost: string;
  settings: Omit<DeploySettings, "image">;
  /** secret name -> where its value comes from (env:VAR or file:PATH) */
  secrets: Record<string, string>;
  smokeChecks: string;
  gitops: { remote: string; path: string; branch: string; name: string };
}

/** A line dotenv would skip silently is an error here: a typo must not drop a setting. */
function checkSyntax(file: string): void {
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      const t = line.trim();
      if (!t || t.startsWith("#")) return;
      if (!/^(export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=/.test(t)) {
        throw new Error(`${file}:${i + 1}: "${t.slice(0, 40)}" is not NAME=value: fix the line or comment it out with #`);
      }
    });
}

export function loadEnvironment(source: string, name: string): Environment {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`--env "${name}" is not an environment name: use e.g. staging or production`);
  const files = dotenvFlow.listFiles({ node_env: name, path: source }).filter((f) => existsSync(f));
  if (!files.some((f) => basename(f).startsWith(`.env.${name}`))) {
    throw new Error(
      `no .env.${name} in ${source}: create it with SLIPWAY_DOCKER_HOST, SLIPWAY_URL and SLIPWAY_STRATEGY (see examples/node-api/.env.staging)`,
    );
  }
  files.forEach(checkSyntax);
  const vars = dotenvFlow.parse(files) as Record<string, string>;
  const where = (key: string) => `${key} (from ${files.map((f) => basename(f)).join(", ")})`;
  const need = (key: string) => {
    const v = vars[key];
    if (!v) throw new Error(`${where(key)} is not set: add it to .env.${name}`);
    return v;
  };
  const num = (key: string, dflt: string, ok: (n: number) => boolean, what: string) => {
    const n = Number(vars[key] ?? dflt);
    if (!ok(n)) throw new Error(`${where(key)}="${vars[key]}" is not ${what}`);
    return n;
  };
  const port = (key: string, dflt?: string) =>
    num(key, dflt ?? need(key), (n) => Number.isInteger(n) && n > 0 && n < 65536, "a port number (1-65535)");
  const target = (vars.SLIPWAY_DEPLOY_TARGET ?? "docker-host") as Environment["target"];
  if (target !== "docker-host" && target !== "gitops")
    throw new Error(`${where("SLIPWAY_DEPLOY_TARGET")}="${target}" is not a target: use docker-host or gitops`);
  const strategy = (vars.SLIPWAY_STRATEGY ?? "rolling") as Strategy;
  if (!STRATEGIES.includes(strategy))
    throw new Error(`${where("SLIPWAY_STRATEGY")}="${strategy}" is not a strategy: use ${STRATEGIES.join(", ")}`);

  const env: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) {
    if (k.startsWith("SLIPWAY_APP_ENV_")) env[k.slice("SLIPWAY_APP_ENV_".length)] = v;
    if (k.startsWith("SLIPWAY_APP_SECRET_")) {
      if (!/^(env|file):./.test(v))
        throw new Error(`${where(k)} must say where the secret is (env:VAR or file:PATH), never the value itself`);
      secrets[k.slice("SLIPWAY_APP_SECRET_".length)] = v;
    }
  }
  const url = target === "docker-host" ? need("SLIPWAY_URL") : (vars.SLIPWAY_URL ?? "");
  let listen = "";
  if (url) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new Error(`${where("SLIPWAY_URL")}="${url}" is not a URL: write e.g. http://127.0.0.1:18081`);
    }
    listen = `${u.hostname}:${u.port || 80}`;
  }
  return {
    name,
    files,
    target,
    url,
    dockerHost: target === "docker-host" ? need("SLIPWAY_DOCKER_HOST") : "",
    settings: {
      app: vars.SLIPWAY_APP ?? basename(source),
      environment: name,
      strategy,
      replicas: num("SLIPWAY_REPLICAS", "2", (n) => Number.isInteger(n) && n >= 1 && n <= 20, "a replica count (1-20)"),
      listen,
      adminPort: target === "docker-host" ? port("SLIPWAY_PROXY_ADMIN_PORT") : 0,
      appPort: target === "docker-host" ? port("SLIPWAY_APP_PORT") : 0,
      healthPath: vars.SLIPWAY_HEALTH_PATH ?? "/health",
      healthTimeoutSeconds: parseDuration(vars.SLIPWAY_HEALTH_TIMEOUT ?? "60s", where("SLIPWAY_HEALTH_TIMEOUT")),
      windowSeconds: parseDuration(vars.SLIPWAY_GATE_WINDOW ?? "10s", where("SLIPWAY_GATE_WINDOW")),
      maxErrorRate: num("SLIPWAY_MAX_ERROR_RATE", "0.01", (n) => n >= 0 && n <= 1, "a rate between 0 and 1 (0.01 = 1%)"),
      canarySteps: parseSteps(vars.SLIPWAY_CANARY_STEPS ?? "10,50,100", where("SLIPWAY_CANARY_STEPS")),
      env,
      secretNames: Object.keys(secrets),
    },
    secrets,
    smokeChecks: resolve(source, vars.SLIPWAY_SMOKE_CHECKS ?? "smoke.json"),
    gitops: {
      remote: target === "gitops" ? need("SLIPWAY_GITOPS_REMOTE") : "",
      path: vars.SLIPWAY_GITOPS_PATH ?? ".",
      branch: vars.SLIPWAY_GITOPS_BRANCH ?? "main",
      name: vars.SLIPWAY_APP ?? basename(source),
    },
  };
}

/** The value of a secret reference (env:VAR or file:PATH), read on the host. */
export function secretValue(name: string, ref: string): string {
  const [kind, rest] = [ref.slice(0, ref.indexOf(":")), ref.slice(ref.indexOf(":") + 1)];
  if (kind === "env") {
    const v = process.env[rest];
    if (!v) throw new Error(`secret ${name}: the environment variable ${rest} is not set: export it before deploying`);
    return v;
  }
  if (!existsSync(rest))
    throw new Error(
      `secret ${name}: ${rest} does not exist${rest.includes("/slipway/targets/") ? ": start the local targets with `npx slipway targets up`" : ""}`,
    );
  return readFileSync(rest, "utf8").trim();
}
