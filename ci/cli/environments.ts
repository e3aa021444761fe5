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
import { appName, gitBranch, gitRemote, healthPath, repoPath, serviceUrl, variableName, variableValue } from "./inputs.ts";
import { checkDeployCredential, checkSecretSource, secretSourceRules } from "./secret-sources.ts";
import { parseSshHost } from "../../modules/deploy/src/ssh.ts";
import { checkQuery, DEFAULT_ERROR_QUERY, DEFAULT_LATENCY_QUERY, type MetricGates } from "../../modules/deploy/src/metrics.ts";

export interface Environment {
  name: string;
  /** the environment whose trust policy applies (a preview: staging's); unset, its own */
  trustAs?: string;
  files: string[];
  target: "docker-host" | "gitops";
  url: string;
  dockerHost: string;
  /** an ssh:// Docker host's private key and known_hosts, by reference (env:VAR or file:PATH) like the app's secrets */
  ssh?: { key: string; knownHosts: string };
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
  // a setting is named with the file it comes from (the last that sets it: later files win), else all of them
  const perFile = files.map((f) => dotenvFlow.parse([f]) as Record<string, string>);
  const where = (key: string) => {
    const from = files.filter((_, i) => key in perFile[i]).slice(-1);
    return `${key} (from ${(from.length ? from : files).map((f) => basename(f)).join(", ")})`;
  };
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

  // values that reach container names and Docker API URLs, HAProxy's configuration, git's command line: checked here
  // to name the key and its file (the deploy module checks them again)
  const app =
    vars.SLIPWAY_APP !== undefined
      ? appName(vars.SLIPWAY_APP, where("SLIPWAY_APP"))
      : appName(basename(source), `SLIPWAY_APP (not set in ${files.map((f) => basename(f)).join(", ")}; the directory's name)`);
  const health = healthPath(vars.SLIPWAY_HEALTH_PATH ?? "/health", where("SLIPWAY_HEALTH_PATH"));
  const env: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  let allowed: ReturnType<typeof secretSourceRules> | undefined;
  for (const [k, v] of Object.entries(vars)) {
    if (k.startsWith("SLIPWAY_APP_ENV_")) env[variableName(k.slice("SLIPWAY_APP_ENV_".length), where(k))] = variableValue(v, where(k));
    if (k.startsWith("SLIPWAY_APP_SECRET_")) {
      const secret = variableName(k.slice("SLIPWAY_APP_SECRET_".length), where(k));
      if (!/^(env|file):./.test(v))
        throw new Error(`${where(k)} must say where the secret is (env:VAR or file:PATH), never the value itself`);
      // the host's files and variables a project may name are the operator's to say (secret-sources.ts)
      checkSecretSource(v, where(k), (allowed ??= secretSourceRules()));
      secrets[secret] = v;
    }
  }
  const docker = target === "docker-host" ? dockerHost(need("SLIPWAY_DOCKER_HOST"), where("SLIPWAY_DOCKER_HOST")) : "";
  let ssh: Environment["ssh"];
  if (docker.startsWith("ssh:")) {
    // the deploy's own credentials: secrets by reference, from sources the operator allows, as the app's are
    const ref = (key: string, what: string) => {
      const v = vars[key];
      if (!v) throw new Error(`${where(key)} is not set: an ssh:// Docker host needs ${what} (file:PATH or env:VAR) in .env.${name}`);
      if (!/^(env|file):./.test(v))
        throw new Error(`${where(key)} must say where ${what} is (env:VAR or file:PATH), never the value itself`);
      checkDeployCredential(v, where(key), (allowed ??= secretSourceRules()));
      return v;
    };
    ssh = { key: ref("SLIPWAY_SSH_KEY", "the SSH private key"), knownHosts: ref("SLIPWAY_SSH_KNOWN_HOSTS", "the host's known_hosts line") };
  }
  const gateMetrics = vars.SLIPWAY_GATE_METRICS ?? "haproxy";
  if (gateMetrics !== "haproxy" && gateMetrics !== "prometheus")
    throw new Error(
      `${where("SLIPWAY_GATE_METRICS")}="${gateMetrics}" is not a gate source: use haproxy (the proxy's counters) or prometheus`,
    );
  let metrics: MetricGates | undefined;
  if (gateMetrics === "prometheus")
    metrics = {
      errorQuery: checkQuery(vars.SLIPWAY_GATE_ERROR_QUERY ?? DEFAULT_ERROR_QUERY, where("SLIPWAY_GATE_ERROR_QUERY")),
      latencyQuery: checkQuery(vars.SLIPWAY_GATE_LATENCY_QUERY ?? DEFAULT_LATENCY_QUERY, where("SLIPWAY_GATE_LATENCY_QUERY")),
      maxP99Seconds: vars.SLIPWAY_GATE_MAX_P99 ? parseDuration(vars.SLIPWAY_GATE_MAX_P99, where("SLIPWAY_GATE_MAX_P99")) : 0,
    };
  else
    for (const k of ["SLIPWAY_GATE_ERROR_QUERY", "SLIPWAY_GATE_LATENCY_QUERY", "SLIPWAY_GATE_MAX_P99"])
      if (vars[k]) throw new Error(`${where(k)} needs SLIPWAY_GATE_METRICS=prometheus: the proxy's counters have no queries`);
  const appPort = target === "docker-host" ? port("SLIPWAY_APP_PORT") : 0;
  // the proxy's exporter and Prometheus take the two ports metrics.ts derives from it, on the target's loopback
  if (metrics && appPort + 191 > 65535)
    throw new Error(
      `${where("SLIPWAY_APP_PORT")}=${appPort} leaves no room for the metric gates, which listen at APP_PORT+190 and +191 on the target's loopback: choose a port up to 65344`,
    );
  const url = target === "docker-host" ? need("SLIPWAY_URL") : (vars.SLIPWAY_URL ?? "");
  const listen = url ? serviceUrl(url, where("SLIPWAY_URL")) : "";
  const gitops = {
    remote: target === "gitops" ? gitRemote(need("SLIPWAY_GITOPS_REMOTE"), where("SLIPWAY_GITOPS_REMOTE")) : "",
    path: repoPath(vars.SLIPWAY_GITOPS_PATH ?? ".", where("SLIPWAY_GITOPS_PATH")),
    branch: gitBranch(vars.SLIPWAY_GITOPS_BRANCH ?? "main", where("SLIPWAY_GITOPS_BRANCH")),
    name: app,
  };
  return {
    name,
    files,
    target,
    url,
    dockerHost: docker,
    ...(ssh ? { ssh } : {}),
    settings: {
      app,
      environment: name,
      strategy,
      replicas: num("SLIPWAY_REPLICAS", "2", (n) => Number.isInteger(n) && n >= 1 && n <= 20, "a replica count (1-20)"),
      listen,
      appPort,
      healthPath: health,
      healthTimeoutSeconds: parseDuration(vars.SLIPWAY_HEALTH_TIMEOUT ?? "60s", where("SLIPWAY_HEALTH_TIMEOUT")),
      windowSeconds: parseDuration(vars.SLIPWAY_GATE_WINDOW ?? "10s", where("SLIPWAY_GATE_WINDOW")),
      maxErrorRate: num("SLIPWAY_MAX_ERROR_RATE", "0.01", (n) => n >= 0 && n <= 1, "a rate between 0 and 1 (0.01 = 1%)"),
      canarySteps: parseSteps(vars.SLIPWAY_CANARY_STEPS ?? "10,50,100", where("SLIPWAY_CANARY_STEPS")),
      env,
      secretNames: Object.keys(secrets),
      ...(metrics ? { metrics } : {}),
    },
    secrets,
    smokeChecks: resolve(source, vars.SLIPWAY_SMOKE_CHECKS ?? "smoke.json"),
    gitops,
  };
}

/**
 * The target's Docker API: a unix socket on this host (unix:///PATH), or a host reached over SSH
 * (ssh://user@host[:port]). An unauthenticated TCP Docker API is root on the target for anyone who reaches it, so
 * tcp:// is refused.
 */
function dockerHost(value: string, where: string): string {
  if (/^unix:\/\/\/\S+$/.test(value)) return value;
  if (/^ssh:/.test(value)) {
    try {
      parseSshHost(value);
    } catch (err) {
      throw new Error(`${where}=${(err as Error).message}`, { cause: err });
    }
    return value;
  }
  if (/^tcp:/.test(value))
    throw new Error(
      `${where}="${value}": an unauthenticated TCP Docker API is refused: use the target's unix socket (unix:///var/run/docker.sock) or reach the host over SSH (ssh://deploy@HOST)`,
    );
  throw new Error(`${where}="${value}" is not a Docker host: write unix:///PATH (e.g. unix:///var/run/docker.sock) or ssh://USER@HOST`);
}

/**
 * The value of a secret reference (env:VAR or file:PATH), read on the host; only a source the operator allows
 * (checked again here: loadEnvironment checked it with the key's name and file).
 */
export function secretValue(name: string, ref: string, credential = false): string {
  (credential ? checkDeployCredential : checkSecretSource)(ref, `secret ${name}`);
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
