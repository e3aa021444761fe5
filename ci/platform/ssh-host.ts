/**
 * `slipway targets up ssh-host`: a second machine on this one, for deploys over SSH (SLIPWAY_DOCKER_HOST=ssh://...).
 * A privileged container of the host's Docker (image slipway/ssh-host, assembled from Debian) on a network of its
 * own, 172.31.250.0/24, at SSH_HOST.ip: sshd takes the user "deploy" with a key only, and its dockerd listens on its
 * unix socket only, so the one way in is SSH, as on a real server. Its keys are generated here, under
 * /var/cache/slipway/ssh-host (root's only): the deploy key, the host key and the known_hosts line a deploy checks
 * it against. Its PostgreSQL (127.0.0.1:5443 on that host) was started over SSH like any server's; its URL is in
 * /var/cache/slipway/targets/ssh-host/database-url, which the host's apps may be given.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { aptInstall, ensureDir, paths, waitFor } from "./host.ts";
import { imageStep } from "./images/build.ts";
import { sshHost as recipe } from "./images/catalog.ts";
import { REGISTRY } from "./registry.ts";
import { runSteps, type Step, StepError } from "./steps.ts";

export const SSH_HOST = {
  container: "slipway-ssh-host",
  network: "slipway-remote",
  subnet: "172.31.250.0/24",
  ip: "172.31.250.10",
  user: "deploy",
  dbPort: 5443,
} as const;

/** The keys: a deploy's credentials, outside targets/ so that no app may name them as a secret (secret-sources.ts). */
export const sshHostDir = join(paths.cache, "ssh-host");
/** What the host's apps may be given: its database's URL. */
const targetDir = join(paths.cache, "targets", "ssh-host");
export const SSH_HOST_FILES = {
  key: join(sshHostDir, "deploy_key"),
  knownHosts: join(sshHostDir, "known_hosts"),
  hostKey: join(sshHostDir, "ssh_host_ed25519_key"),
  authorized: join(sshHostDir, "authorized_keys"),
  databaseUrl: join(targetDir, "database-url"),
};
/** The test host as SLIPWAY_DOCKER_HOST names it. */
export const SSH_HOST_URL = `ssh://${SSH_HOST.user}@${SSH_HOST.ip}`;

const quiet = $({ quiet: true, nothrow: true });

/**
 * ssh to the test host as the deploy user, checked against its known_hosts line; extra: more ssh options; input:
 * the remote command's standard input.
 */
export function sshToHost(command: string[], extra: string[] = [], input?: string) {
  const f = SSH_HOST_FILES;
  const opts = [
    "-i",
    f.key,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${f.knownHosts}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "ConnectTimeout=5",
  ];
  // ssh joins the words into one line for the remote shell: each is quoted for it
  const line = command.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(" ");
  return $({
    quiet: true,
    nothrow: true,
    ...(input === undefined ? {} : { input }),
  })`ssh ${opts} ${extra} ${SSH_HOST.user}@${SSH_HOST.ip} ${line}`;
}

const answers = async () => (await sshToHost(["docker", "version", "--format", "{{.Server.Version}}"])).exitCode === 0;
const running = async () => (await quiet`docker inspect -f {{.State.Running}} ${SSH_HOST.container}`).stdout.trim();
/** The keys label the host container was started with (keysLabel's). */
const startedKeys = async () =>
  (await quiet`docker inspect -f ${'{{index .Config.Labels "slipway.keys"}}'} ${SSH_HOST.container}`).stdout.trim();

const keysStep: Step = {
  title: `SSH keys (${sshHostDir})`,
  async done() {
    return Object.values(SSH_HOST_FILES)
      .filter((f) => f !== SSH_HOST_FILES.databaseUrl)
      .every((f) => existsSync(f))
      ? "present"
      : undefined;
  },
  async run(progress) {
    await aptInstall(this.title, ["openssh-client"], progress);
    const d = ensureDir(sshHostDir);
    chmodSync(d, 0o700);
    const f = SSH_HOST_FILES;
    for (const [file, comment] of [
      [f.key, "slipway-deploy"],
      [f.hostKey, "slipway-ssh-host"],
    ]) {
      if (!existsSync(file)) await $({ quiet: true })`ssh-keygen -q -t ed25519 -N ${""} -C ${comment} -f ${file}`;
    }
    writeFileSync(f.authorized, readFileSync(`${f.key}.pub`, "utf8"));
    writeFileSync(f.knownHosts, knownHostsLine(readFileSync(`${f.hostKey}.pub`, "utf8")));
    return "generated";
  },
};

/** What the host container was started with: its authorized key and its host key, by hash ("" before they exist). */
function keysLabel(): string {
  const files = [SSH_HOST_FILES.authorized, `${SSH_HOST_FILES.hostKey}.pub`];
  if (!files.every((f) => existsSync(f))) return "";
  return createHash("sha256")
    .update(files.map((f) => readFileSync(f, "utf8")).join(""))
    .digest("hex")
    .slice(0, 16);
}

/** The known_hosts line for the test host from its public host key (`TYPE BASE64 COMMENT`). */
export function knownHostsLine(publicKey: string, host: string = SSH_HOST.ip): string {
  const [type, key] = publicKey.trim().split(/\s+/);
  if (!type || !key) throw new Error(`not an SSH public key: ${publicKey.slice(0, 40)}`);
  return `${host} ${type} ${key}\n`;
}

const hostStep: Step = {
  title: `SSH host ${SSH_HOST_URL} (container ${SSH_HOST.container})`,
  async done() {
    const current = (await startedKeys()) === keysLabel();
    return current && (await running()) === "true" && (await answers()) ? "answers over SSH; its Docker engine answers" : undefined;
  },
  async run(progress) {
    if ((await quiet`docker network inspect ${SSH_HOST.network}`).exitCode !== 0) {
      progress(`creating the network ${SSH_HOST.network} (${SSH_HOST.subnet})`);
      await $({ quiet: true })`docker network create --subnet ${SSH_HOST.subnet} ${SSH_HOST.network}`;
    }
    // a container started with other keys (regenerated, or from an older layout) is replaced; its Docker data stays
    let state = await running();
    const label = keysLabel();
    if (state && (await startedKeys()) !== label) {
      progress(`replacing ${SSH_HOST.container}: its keys changed`);
      await quiet`docker rm -f ${SSH_HOST.container}`;
      state = "";
    }
    if (state === "false") await quiet`docker start ${SSH_HOST.container}`;
    if (!state) {
      progress(`starting ${SSH_HOST.container} at ${SSH_HOST.ip} (sshd, dockerd)`);
      const keys = ["authorized_keys", "ssh_host_ed25519_key"].flatMap((k) => ["-v", `${join(sshHostDir, k)}:/etc/slipway-ssh/${k}:ro`]);
      const r =
        await quiet`docker run -d --name ${SSH_HOST.container} --hostname ssh-host --privileged --restart unless-stopped --network ${SSH_HOST.network} --ip ${SSH_HOST.ip} --label ${`slipway.keys=${label}`} ${keys} -v ${SSH_HOST.container}-docker:/var/lib/docker ${recipe.refs[0]}`;
      if (r.exitCode !== 0)
        throw new StepError(this.title, r.stderr.trim().split("\n").pop() ?? "docker run failed", "check `docker info`");
    }
    if (!(await waitFor(answers, 60))) {
      const logs = (await quiet`docker logs --tail 3 ${SSH_HOST.container}`).stderr.trim().replace(/\n/g, " | ");
      throw new StepError(this.title, `no answer over SSH within 60s: ${logs}`, `docker logs ${SSH_HOST.container}`);
    }
    return "started";
  },
};

const dbReady = async () =>
  (await sshToHost(["docker", "exec", "slipway-postgres", "pg_isready", "-q", "-h", "127.0.0.1", "-p", String(SSH_HOST.dbPort)]))
    .exitCode === 0;

const databaseStep: Step = {
  title: `PostgreSQL on the SSH host (127.0.0.1:${SSH_HOST.dbPort} there)`,
  async done() {
    return existsSync(SSH_HOST_FILES.databaseUrl) && (await dbReady()) ? `answers; URL in ${SSH_HOST_FILES.databaseUrl}` : undefined;
  },
  async run(progress) {
    const state = (await sshToHost(["docker", "inspect", "-f", "{{.State.Running}}", "slipway-postgres"])).stdout.trim();
    if (state === "false") await sshToHost(["docker", "start", "slipway-postgres"]);
    if (!state) {
      // as an operator provisions a server: over SSH, the image pulled through this host's registry, forwarded back
      progress("creating the database container over SSH (postgres:15 through this host's registry)");
      const password = randomBytes(18).toString("base64url");
      const port = REGISTRY.split(":")[1];
      // the password travels on ssh's standard input, into the docker CLI's environment there: in no argv on either host
      const r = await sshToHost(
        [
          "sh",
          "-c",
          'read -r POSTGRES_PASSWORD && export POSTGRES_PASSWORD && exec "$@"',
          "sh",
          "docker",
          "run",
          "-d",
          "--name",
          "slipway-postgres",
          "--network",
          "host",
          "--restart",
          "unless-stopped",
          "-e",
          "POSTGRES_PASSWORD",
          "-e",
          "POSTGRES_DB=app",
          "-v",
          "slipway-postgres:/var/lib/postgresql/data",
          "postgres:15",
          "postgres",
          "-p",
          String(SSH_HOST.dbPort),
          "-c",
          "listen_addresses=127.0.0.1",
        ],
        ["-o", "ExitOnForwardFailure=yes", "-R", `127.0.0.1:${port}:${REGISTRY}`],
        `${password}\n`,
      );
      if (r.exitCode !== 0)
        throw new StepError(this.title, r.stderr.trim().split("\n").pop() ?? "docker run failed", "npx slipway engine up");
      chmodSync(ensureDir(targetDir), 0o700);
      writeFileSync(SSH_HOST_FILES.databaseUrl, `postgres://postgres:${password}@127.0.0.1:${SSH_HOST.dbPort}/app\n`, { mode: 0o600 });
    }
    if (!(await waitFor(dbReady, 60)))
      throw new StepError(
        this.title,
        "PostgreSQL did not become ready within 60s",
        `ssh into ${SSH_HOST_URL}: docker logs slipway-postgres`,
      );
    return `ready; URL in ${SSH_HOST_FILES.databaseUrl}`;
  },
};

/** Brings the SSH test host up (idempotent); quiet: no step lines unless something needs doing. */
export async function sshHostUp(quietRun = false): Promise<void> {
  const steps = [imageStep(recipe), keysStep, hostStep, databaseStep];
  if (quietRun && (await Promise.all(steps.map((s) => s.done()))).every(Boolean)) return;
  const { useEngine } = await import("./connection.ts");
  await useEngine({ quiet: true, check: false }); // the host's Docker and the registry its images come from
  await runSteps(steps);
}

/** One line for `targets status`. */
export async function sshHostStatus(): Promise<string> {
  if ((await running()) !== "true") return "not running";
  const ps = await sshToHost(["docker", "ps", "--format", '{{.Names}}:{{.Label "slipway.image"}}']);
  if (ps.exitCode !== 0) return `runs, but no answer over SSH: ${ps.stderr.trim().split("\n").pop()}`;
  const apps = ps.stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((a) => a.replace(/:$/, ""));
  return `${SSH_HOST_URL} answers over SSH; ${apps.join(", ") || "no containers"}`;
}

/** Stops the test host (its data, keys and Docker volume kept); whether it ran. */
export async function sshHostDown(): Promise<boolean> {
  if ((await running()) !== "true") return false;
  await quiet`docker stop ${SSH_HOST.container}`;
  return true;
}
