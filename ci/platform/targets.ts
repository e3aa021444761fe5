/**
 * `slipway targets up|status|down`: the local deploy targets, one Docker engine per environment (staging,
 * production) beside the main one, each with its own PostgreSQL for the example. Each engine listens on its unix
 * socket only, /var/cache/slipway/targets/<environment>/docker.sock, mode 0660 and group root (root-only; no TCP:
 * an unauthenticated Docker API is root on the target for anyone who reaches it). Their containers share the host's
 * network (each engine has an idle bridge of its own and no iptables rules), pull through the local registry mirror, and keep their data in
 * /var/cache/slipway/targets/<environment>. The database URL is written to a file only root reads; environments
 * name it as a secret (SLIPWAY_APP_SECRET_DATABASE_URL=file:...).
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { ensureDir, paths, pidRuns, startDaemon, tail, waitFor } from "./host.ts";
import { runSteps, type Step, StepError } from "./steps.ts";

export const LOCAL_TARGETS = {
  staging: { dbPort: 5441, bridge: "sw-staging", subnet: "172.31.241.1/24" },
  production: { dbPort: 5442, bridge: "sw-production", subnet: "172.31.242.1/24" },
} as const;
type Name = keyof typeof LOCAL_TARGETS;

const dir = (env: Name) => join(paths.cache, "targets", env);
/** The target's Docker API: its unix socket, the only address its engine listens on. */
export const targetSocket = (env: Name) => join(dir(env), "docker.sock");
const dockerHost = (env: Name) => `unix://${targetSocket(env)}`;
/** The docker CLI against the Docker engine at host (unix:///PATH), quiet, its failures returned. */
export const dockerAt = (host: string) => $({ env: { ...process.env, DOCKER_HOST: host }, quiet: true, nothrow: true });
const docker = (env: Name) => dockerAt(dockerHost(env));
const pidOf = (env: Name) => {
  const f = join(dir(env), "dockerd.pid");
  return existsSync(f) ? Number(readFileSync(f, "utf8").trim()) : undefined;
};
const answers = async (env: Name) => (await docker(env)`docker version --format {{.Server.Version}}`).exitCode === 0;

/** The engine's configuration: data under the target's directory, the unix socket its only listener, group root. */
function engineConfig(env: Name): string {
  const d = dir(env);
  const { bridge } = LOCAL_TARGETS[env];
  const config = {
    "storage-driver": "overlay2",
    bridge,
    iptables: false,
    "ip-masq": false,
    "registry-mirrors": ["http://127.0.0.1:5000"],
    hosts: [dockerHost(env)],
    // dockerd would hand the socket to a "docker" group when one exists (Debian's docker.io creates it)
    group: "root",
    "data-root": join(d, "docker"),
    "exec-root": `/run/slipway-${env}`,
    pidfile: join(d, "dockerd.pid"),
    "cgroup-parent": `slipway-${env}`,
  };
  return JSON.stringify(config, null, 2) + "\n";
}
const configFile = (env: Name) => join(dir(env), "dockerd.json");
const configCurrent = (env: Name) => existsSync(configFile(env)) && readFileSync(configFile(env), "utf8") === engineConfig(env);

async function stopEngine(env: Name): Promise<number | undefined> {
  const pid = pidOf(env);
  if (!pidRuns(pid, "dockerd")) return undefined;
  process.kill(pid!, "SIGTERM");
  for (let i = 0; i < 120 && pidRuns(pid, "dockerd"); i++) await new Promise((r) => setTimeout(r, 250));
  return pid;
}

function engineStep(env: Name): Step {
  const title = `${env} Docker engine (${dockerHost(env)})`;
  return {
    title,
    async done() {
      return configCurrent(env) && (await answers(env)) ? "answers" : undefined;
    },
    async run(progress) {
      const d = ensureDir(dir(env));
      chmodSync(d, 0o700); // the socket, the database URL and the engine's data: root's only
      if (!configCurrent(env) && (await stopEngine(env))) progress(`restarted ${env}'s dockerd with its new configuration`);
      // its own bridge: a second dockerd started with bridge "none" deletes the main one's docker0
      const { bridge, subnet } = LOCAL_TARGETS[env];
      if ((await $({ nothrow: true, quiet: true })`ip link show ${bridge}`).exitCode !== 0) {
        await $({ quiet: true })`ip link add ${bridge} type bridge && ip addr add ${subnet} dev ${bridge} && ip link set ${bridge} up`;
      }
      writeFileSync(configFile(env), engineConfig(env));
      if (!pidRuns(pidOf(env), "dockerd")) rmSync(targetSocket(env), { force: true }); // left by a killed dockerd
      progress(`starting dockerd for ${env} (log: ${join(paths.logs, `dockerd-${env}.log`)})`);
      startDaemon(`dockerd-${env}`, "dockerd", ["--config-file", join(d, "dockerd.json")]);
      if (!(await waitFor(() => answers(env), 60))) {
        throw new StepError(
          title,
          `dockerd did not answer within 60s: ${tail(join(paths.logs, `dockerd-${env}.log`))}`,
          `read ${join(paths.logs, `dockerd-${env}.log`)}`,
        );
      }
      return "started";
    },
  };
}

/**
 * Starts PostgreSQL 15 (through the mirror) as container `name` on the Docker engine at host: the host's network,
 * listening on 127.0.0.1:port only, its data in the volume of the same name, a fresh password; its URL written to
 * urlFile, which only root reads. undefined when started, else the docker CLI's last error line.
 */
export async function runPostgres(
  host: string,
  name: string,
  port: number,
  urlFile: string,
  labels: string[] = [],
): Promise<string | undefined> {
  const password = randomBytes(18).toString("base64url");
  // the password reaches the container through the docker CLI's environment (`-e NAME` alone), never its argv
  const r = await $({
    env: { ...process.env, DOCKER_HOST: host, POSTGRES_PASSWORD: password },
    quiet: true,
    nothrow: true,
  })`docker run -d --name ${name} --network host --restart unless-stopped ${labels.flatMap((l) => ["--label", l])} -e POSTGRES_PASSWORD -e POSTGRES_DB=app -v ${name}:/var/lib/postgresql/data postgres:15 postgres -p ${port} -c listen_addresses=127.0.0.1`;
  if (r.exitCode !== 0) return r.stderr.trim().split("\n").pop() ?? "docker run failed";
  writeFileSync(urlFile, `postgres://postgres:${password}@127.0.0.1:${port}/app\n`, { mode: 0o600 });
  return undefined;
}

/** Whether the PostgreSQL of container name answers on 127.0.0.1:port. */
export const postgresReady = async (host: string, name: string, port: number) =>
  (await dockerAt(host)`docker exec ${name} pg_isready -q -h 127.0.0.1 -p ${port}`).exitCode === 0;

function databaseStep(env: Name): Step {
  const title = `${env} PostgreSQL (127.0.0.1:${LOCAL_TARGETS[env].dbPort})`;
  const urlFile = join(dir(env), "database-url");
  const ready = () => postgresReady(dockerHost(env), "slipway-postgres", LOCAL_TARGETS[env].dbPort);
  return {
    title,
    async done() {
      return existsSync(urlFile) && (await ready()) ? `answers; URL in ${urlFile}` : undefined;
    },
    async run(progress) {
      const running = (await docker(env)`docker inspect -f {{.State.Running}} slipway-postgres`).stdout.trim();
      if (running === "false") await docker(env)`docker start slipway-postgres`;
      if (!running) {
        progress("creating the database container (image postgres:15 through the mirror)");
        const failed = await runPostgres(dockerHost(env), "slipway-postgres", LOCAL_TARGETS[env].dbPort, urlFile);
        if (failed) throw new StepError(title, failed, "check that `npx slipway engine up` ran (the mirror serves postgres:15)");
      }
      if (!(await waitFor(ready, 60)))
        throw new StepError(
          title,
          "PostgreSQL did not become ready within 60s",
          `DOCKER_HOST=${dockerHost(env)} docker logs slipway-postgres`,
        );
      return `ready; URL in ${urlFile}`;
    },
  };
}

/** Brings the local targets up (idempotent); quiet: no step lines unless something needs doing. */
export async function targetsUp(quiet = false): Promise<void> {
  const envs = Object.keys(LOCAL_TARGETS) as Name[];
  const steps = envs.flatMap((e) => [engineStep(e), databaseStep(e)]);
  if (quiet && (await Promise.all(steps.map((s) => s.done()))).every(Boolean)) return;
  const { useEngine } = await import("../platform/connection.ts");
  await useEngine({ quiet: true, check: false }); // the registry mirror the targets pull through
  await runSteps(steps);
}

export async function targetsCommand(sub: string | undefined, which?: string): Promise<number> {
  const envs = Object.keys(LOCAL_TARGETS) as Name[];
  if (which !== undefined && which !== "ssh-host" && which !== "kubernetes") {
    process.stderr.write(`slipway targets ${sub}: unknown target "${which}"; name none (staging and production), ssh-host or kubernetes\n`);
    return 2;
  }
  const ssh = await import("./ssh-host.ts");
  const kube = await import("./kube-cluster.ts");
  switch (sub ?? "up") {
    case "up":
      if (which === "ssh-host") await ssh.sshHostUp();
      else if (which === "kubernetes") await kube.kubernetesUp();
      else await targetsUp();
      return 0;
    case "status":
      for (const e of envs) {
        const up = await answers(e);
        const apps = up
          ? (await docker(e)`docker ps --format ${'{{.Names}}:{{.Label "slipway.image"}}'}`).stdout.trim().split("\n").filter(Boolean)
          : [];
        process.stdout.write(
          `${e.padEnd(11)} ${up ? `${dockerHost(e)} answers; ${apps.map((a) => a.replace(/:$/, "")).join(", ") || "no containers"}` : "not running"}\n`,
        );
      }
      process.stdout.write(`${"ssh-host".padEnd(11)} ${await ssh.sshHostStatus()}\n`);
      process.stdout.write(`${"kubernetes".padEnd(11)} ${await kube.kubernetesStatus()}\n`);
      return 0;
    case "down": {
      // as `up`: no name is staging and production; the SSH host and the cluster are stopped by name only
      if (which === "ssh-host") {
        process.stdout.write((await ssh.sshHostDown()) ? `stopped: ssh-host; its keys and data kept\n` : "the SSH host does not run\n");
        return 0;
      }
      if (which === "kubernetes") {
        process.stdout.write(
          (await kube.kubernetesDown())
            ? `stopped: kubernetes; its state (${kube.kubeStateDir}) and images kept\n`
            : "the cluster does not run\n",
        );
        return 0;
      }
      const stopped: string[] = [];
      for (const e of envs) {
        const pid = await stopEngine(e);
        if (pid) stopped.push(`${e} (pid ${pid})`);
      }
      process.stdout.write(
        stopped.length ? `stopped: ${stopped.join(", ")}; data in ${join(paths.cache, "targets")} kept\n` : "no local target runs\n",
      );
      return 0;
    }
    default:
      process.stderr.write(`slipway targets: unknown subcommand "${sub}"; use up, status or down\n`);
      return 2;
  }
}
