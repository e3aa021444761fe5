/**
 * The rollout controller: runs under plain node in a container (`node controller.ts deploy|rollback`), talks to
 * the target's Docker engine over its unix socket (DOCKER_HOST=unix://..., mounted into this container) and, through
 * it, to HAProxy's runtime API: a mode-600 unix socket inside the proxy container, reached by `docker exec` of
 * socat (no TCP anywhere). Settings come as JSON in SLIPWAY_DEPLOY; the app's secrets as SLIPWAY_SECRET_<NAME>
 * variables, which reach each replica as files /run/secrets/<NAME> (mode 0400, never in its environment).
 * Progress goes to stdout, the report to /out/deploy.json. Exit 0: deployed (or already live), or recovered; 1:
 * refused or rolled back, with the previous version serving; 2: an error; 3: another run took the lock over (this
 * one stopped without touching traffic); 4: locked by another run (nothing changed).
 *
 * All or nothing: deploy, rollback and recover hold the app's lock on the target (a container named
 * <app>-deploy-lock, created and never started: Docker refuses a second one with that name), beat on it every
 * LOCK_BEAT_SECONDS and check it before each change; the rollout's progress (the stable slot, what is rolled out) is
 * a file on the proxy's volume, written before traffic moves. A run that finds a half-done rollout (a stale lock's,
 * or its own run's after Ctrl-C: `recover`) restores the stable version first, or finishes a rollout that had already
 * taken all traffic.
 */
import { request } from "node:http";
import { dockerRequest, proxyConfigKey, untarFirst } from "../src/docker-api.ts";
import { mkdirSync, writeFileSync } from "node:fs";
import { type ChildProcess } from "node:child_process";
import { openTunnel, parseSshHost, sshTunnelArgs, throughRegistry } from "../src/ssh.ts";
import { createHash } from "node:crypto";
import { expandQuery, metricVerdict, PROMETHEUS_CONFIG, prometheusConfig, prometheusPort, queryValue } from "../src/metrics.ts";
import { randomUUID } from "node:crypto";
import {
  ADMIN_SOCKET,
  gate,
  type GateResult,
  haproxyConfig,
  LOCK_BEAT_SECONDS,
  lockDecision,
  lockedMessage,
  lockName,
  type LockRecord,
  other,
  parseProgress,
  parseStats,
  PROGRESS_FILE,
  type Progress,
  recoveryLine,
  recoveryStep,
  PROXY_CONFIG,
  PROXY_DIR,
  type DeploySettings,
  SERVER_STATE,
  servers,
  type ServerStat,
  type Slot,
  slotPort,
  trafficSteps,
} from "../src/plan.ts";

const settings = JSON.parse(process.env.SLIPWAY_DEPLOY ?? "{}") as DeploySettings & { previous?: string };
const action = process.argv[2] ?? "deploy";
const dockerSocket = (process.env.DOCKER_HOST ?? "").replace(/^unix:\/\//, "");
const secrets: Record<string, string> = Object.fromEntries(settings.secretNames.map((n) => [n, process.env[`SLIPWAY_SECRET_${n}`] ?? ""]));
const PROXY = `${settings.app}-proxy`;
const started = Date.now();
/** The run named in the lock (the CLI's), and this process's own token in it. */
const runId = settings.run || `controller-${randomUUID().slice(0, 8)}`;
const LOCK = lockName(settings.app);
/** Over SSH with the registry forwarded, the host pulls Slipway's images from it (throughRegistry). */
const forwarded = (process.env.SLIPWAY_SSH_REGISTRY ?? "").split(":")[1];
const pinned = (ref: string) => (forwarded && ref ? throughRegistry(ref, forwarded) : ref);
/** The pinned HAProxy image (the deploy module passes it): the proxy's, and the lock's idle container's. */
const PROXY_IMAGE = pinned(process.env.SLIPWAY_PROXY_IMAGE ?? "");
/** The lock container's image: the proxy's, which every target pulls anyway. */
const LOCK_IMAGE = PROXY_IMAGE;
const token = randomUUID();
/** The lock container this run created ("" until it holds the lock); lost once another run replaced it. */
let lockId = "";
let lockLost = false;
let beat: NodeJS.Timeout | undefined;

/** Another run holds the lock: nothing was changed. */
class Locked extends Error {}
/** Another run took this one's lock over: this one stops without touching traffic. */
class LockLost extends Error {}

interface Step extends GateResult {
  traffic: number;
  seconds: number;
}
const report = {
  app: settings.app,
  environment: settings.environment,
  strategy: settings.strategy as string,
  image: settings.image,
  previous: "" as string,
  run: runId,
  /** what this run restored or finished of a half-done rollout before its own, if anything */
  recovered: "",
  outcome: "",
  reason: "",
  steps: [] as Step[],
  failedRequests: 0,
  durationSeconds: 0,
};

const say = (line: string) => process.stdout.write(`deploy ${settings.environment}: ${line}\n`);
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
const redact = (text: string) =>
  Object.values(secrets)
    .filter((v) => v.length >= 4)
    .reduce((t, v) => t.split(v).join("***"), text);

/** One call to the target's Docker Engine API (see dockerRequest). */
const dockerCall = (method: string, path: string, body?: unknown): Promise<Buffer> => dockerRequest(dockerSocket, method, path, body);

const docker = async (method: string, path: string, body?: unknown): Promise<string> => (await dockerCall(method, path, body)).toString();

const EXIT_MARK = "__slipway_exit";

/**
 * Runs cmd in a running container (Docker exec); returns its stdout, rejects with its stderr when it fails. The
 * command prints its exit status after its output, and the stream is read until that line: whether the closing of
 * Docker's hijacked connection reaches this side depends on what forwards the socket (a Dagger socket does not).
 */
async function exec(container: string, cmd: string[], timeoutSeconds = 30): Promise<string> {
  const wrapped = ["sh", "-c", `"$@"; printf '\\n${EXIT_MARK} %s\\n' "$?"`, "exec", ...cmd];
  const { Id } = JSON.parse(
    await docker("POST", `/containers/${encodeURIComponent(container)}/exec`, { Cmd: wrapped, AttachStdout: true, AttachStderr: true }),
  ) as { Id: string };
  const { out, err } = await new Promise<{ out: string; err: string }>((resolve, reject) => {
    const body = Buffer.from(JSON.stringify({ Detach: false, Tty: false }));
    const req = request(
      {
        socketPath: dockerSocket,
        method: "POST",
        path: `/v1.41/exec/${Id}/start`,
        headers: { "Content-Type": "application/json", "Content-Length": body.length },
      },
      (res) => {
        // the multiplexed stream: frames of [stream, 0, 0, 0, size (4 bytes, big endian)] + payload
        let raw = Buffer.alloc(0);
        const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
        const finish = () => {
          clearTimeout(timer);
          req.destroy();
          resolve({ out: Buffer.concat(chunks.out).toString(), err: Buffer.concat(chunks.err).toString() });
        };
        res.on("data", (c: Buffer) => {
          raw = Buffer.concat([raw, c]);
          while (raw.length >= 8 && raw.length >= 8 + raw.readUInt32BE(4)) {
            const size = raw.readUInt32BE(4);
            (raw[0] === 2 ? chunks.err : chunks.out).push(raw.subarray(8, 8 + size));
            raw = raw.subarray(8 + size);
          }
          if (new RegExp(`\\n${EXIT_MARK} \\d+\\n$`).test(Buffer.concat(chunks.out).toString())) finish();
        });
        res.on("end", finish);
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      reject(
        new Error(`${cmd[0]} in ${container} did not finish within ${timeoutSeconds}s: check the container (docker logs ${container})`),
      );
    }, timeoutSeconds * 1000);
    req.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`the Docker engine at ${process.env.DOCKER_HOST} does not answer (${e.message}): check SLIPWAY_DOCKER_HOST`));
    });
    req.end(body);
  });
  const m = new RegExp(`\\n${EXIT_MARK} (\\d+)\\n$`).exec(out);
  const code = m ? Number(m[1]) : -1;
  const stdout = m ? out.slice(0, m.index) : out;
  if (code !== 0) {
    const why = err.trim() || stdout.trim() || "no output";
    throw new Error(`${cmd[0]} in ${container} exited with ${code}: ${why.split("\n").pop()}`);
  }
  return stdout;
}

/** A tar archive of files (name relative to /, mode, owner); directories end in "/". */
function tarArchive(entries: { name: string; mode: number; uid: number; gid: number; data?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? "");
    const h = Buffer.alloc(512);
    const put = (text: string, at: number, len: number) => h.write(text, at, len, "utf8");
    const oct = (n: number, at: number, len: number) => put(n.toString(8).padStart(len - 1, "0") + "\0", at, len);
    put(e.name, 0, 100);
    oct(e.mode, 100, 8);
    oct(e.uid, 108, 8);
    oct(e.gid, 116, 8);
    oct(e.name.endsWith("/") ? 0 : data.length, 124, 12);
    oct(Math.floor(Date.now() / 1000), 136, 12);
    put(e.name.endsWith("/") ? "5" : "0", 156, 1);
    put("ustar\u000000", 257, 8);
    h.fill(" ", 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
    blocks.push(h);
    if (!e.name.endsWith("/")) blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

/** The lock container and its holder as it says (its last heartbeat: the file's, else the container's creation). */
async function readLock(): Promise<{ id: string; record: LockRecord } | undefined> {
  let info: { Id: string; Created: string; Config: { Labels?: Record<string, string> } };
  try {
    info = JSON.parse(await docker("GET", `/containers/${LOCK}/json`));
  } catch (e) {
    if (/: 404 /.test((e as Error).message)) return undefined;
    throw e;
  }
  const labels = info.Config.Labels ?? {};
  const record: LockRecord = {
    run: labels["slipway.run"] ?? "an unknown run",
    token: labels["slipway.lock-token"] ?? "",
    started: labels["slipway.started"] ?? info.Created,
    beat: Date.parse(info.Created),
  };
  try {
    const said = JSON.parse(untarFirst(await dockerCall("GET", `/containers/${info.Id}/archive?path=%2Fslipway-lock.json`))) as LockRecord;
    if (Number.isFinite(said.beat)) record.beat = said.beat;
  } catch {
    // no heartbeat yet (created a moment ago, or its holder died at once): its creation time stands
  }
  return { id: info.Id, record };
}

/** A heartbeat: the holder's record, its time now, written into the lock container (by id: never into a successor). */
async function beatOnce(): Promise<void> {
  const record: LockRecord = { run: runId, token, started: new Date(started).toISOString(), beat: Date.now() };
  const tar = tarArchive([{ name: "slipway-lock.json", mode: 0o644, uid: 0, gid: 0, data: JSON.stringify(record) }]);
  await dockerCall("PUT", `/containers/${lockId}/archive?path=%2F`, tar);
}

/**
 * Takes the app's lock on the target: a container created under a fixed name (Docker refuses a duplicate with 409).
 * A lock whose holder stopped beating is taken over, as is this run's own when ownRun (its recovery); a live
 * holder's is refused in one line (Locked). Returns how it was taken.
 */
async function acquireLock(ownRun: boolean): Promise<"free" | "stale" | "own"> {
  const present = await docker("GET", `/images/${encodeURIComponent(LOCK_IMAGE)}/json`).then(
    () => true,
    () => false,
  );
  if (!present) await pull(LOCK_IMAGE);
  let how: "free" | "stale" | "own" = "free";
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const created = JSON.parse(
        await docker("POST", `/containers/create?name=${LOCK}`, {
          Image: LOCK_IMAGE,
          Entrypoint: ["true"],
          Cmd: [],
          Labels: {
            "slipway.app": settings.app,
            "slipway.role": "lock",
            "slipway.run": runId,
            "slipway.lock-token": token,
            "slipway.started": new Date(started).toISOString(),
          },
        }),
      ) as { Id: string };
      lockId = created.Id;
      await beatOnce();
      beat = setInterval(heartbeat, LOCK_BEAT_SECONDS * 1000);
      beat.unref();
      return how;
    } catch (e) {
      if (!/: 409 /.test((e as Error).message)) throw e;
    }
    const found = await readLock();
    if (!found) continue; // released meanwhile
    const now = Date.now();
    const decision = lockDecision(found.record, runId, now, ownRun);
    if (decision === "held" || decision === "free") throw new Locked(lockedMessage(found.record, now));
    if (decision === "stale")
      say(
        `the lock of ${found.record.run} (started ${found.record.started}) has had no heartbeat for ${Math.round((now - found.record.beat) / 1000)}s: that run is gone, taking it over`,
      );
    how = decision;
    // removed by id: a lock another run took meanwhile is never the one removed
    await docker("DELETE", `/containers/${found.id}?force=1`).catch((err: Error) => {
      if (!/: 404 /.test(err.message)) throw err;
    });
  }
  throw new Error(`the lock ${LOCK} on ${settings.environment} kept changing hands: another run is starting, retry in a moment`);
}

let beating = false;
/** Beats on the lock; a lock container that is gone (replaced by another run) means the lock is lost. */
function heartbeat(): void {
  if (beating || lockLost || !lockId) return;
  beating = true;
  beatOnce()
    .catch((e: Error) => {
      if (/: 404 /.test(e.message)) lockLost = true;
    })
    .finally(() => (beating = false));
}

/** Before every change on the target: this run still holds the lock, else LockLost (and nothing more is touched). */
async function holdLock(): Promise<void> {
  if (!lockId) return;
  if (!lockLost) {
    const current = await docker("GET", `/containers/${LOCK}/json`).then(
      (t) => (JSON.parse(t) as { Id: string }).Id,
      (e: Error) => {
        if (/: 404 /.test(e.message)) return "";
        throw e;
      },
    );
    if (current !== lockId) lockLost = true;
  }
  if (lockLost)
    throw new LockLost(
      `another run took over the lock on ${settings.environment} (this run's recovery, or a run that found its heartbeat stale): stopped without touching traffic`,
    );
}

async function releaseLock(): Promise<void> {
  if (beat) clearInterval(beat);
  if (lockId) await docker("DELETE", `/containers/${lockId}?force=1`).catch(() => undefined);
  lockId = "";
}

/** The rollout in progress on the target, if any (a file on the proxy's volume). */
async function readProgress(): Promise<Progress | undefined> {
  return parseProgress(await exec(PROXY, ["sh", "-c", 'cat "$1" 2>/dev/null || true', "progress", PROGRESS_FILE]));
}

/** Records the rollout's progress, atomically (a temp file, then renamed over the old one). */
async function saveProgress(p: Progress): Promise<void> {
  await holdLock();
  await exec(PROXY, [
    "sh",
    "-ec",
    'umask 077; printf "%s" "$2" > "$1.tmp"; mv -f "$1.tmp" "$1"',
    "progress",
    PROGRESS_FILE,
    JSON.stringify(p),
  ]);
}

async function clearProgress(): Promise<void> {
  await holdLock();
  await exec(PROXY, ["rm", "-f", PROGRESS_FILE]);
}

/** The numeric uid and gid a created container runs as (its image's USER, names looked up in its /etc files). */
async function containerOwner(name: string): Promise<{ uid: number; gid: number }> {
  const user = (JSON.parse(await docker("GET", `/containers/${name}/json`)) as { Config: { User?: string } }).Config.User || "0";
  const [u, g] = user.split(":");
  const file = async (path: string) =>
    untarFirst(await dockerCall("GET", `/containers/${name}/archive?path=${encodeURIComponent(path)}`))
      .split("\n")
      .map((l) => l.split(":"));
  const passwd = /^\d+$/.test(u) && (g === undefined || /^\d+$/.test(g)) ? [] : await file("/etc/passwd");
  const entry = passwd.find((f) => f[0] === u || f[2] === u);
  const uid = /^\d+$/.test(u) ? Number(u) : Number(entry?.[2] ?? NaN);
  if (Number.isNaN(uid)) throw new Error(`the image of ${name} runs as user ${u}, which its /etc/passwd does not name: set USER to a uid`);
  if (g === undefined) return { uid, gid: Number(entry?.[3] ?? uid) };
  if (/^\d+$/.test(g)) return { uid, gid: Number(g) };
  const group = (await file("/etc/group")).find((f) => f[0] === g);
  if (!group) throw new Error(`the image of ${name} runs as group ${g}, which its /etc/group does not name: set USER to uid:gid`);
  return { uid, gid: Number(group[2]) };
}

/**
 * Commands on HAProxy's runtime API (joined with ";", one exchange), by socat inside the proxy container. With
 * save, the server state (weights, live slot) is then written to the state file, atomically (temp, then rename).
 */
function admin(commands: string[], save = false): Promise<string> {
  const ask = `printf '%s\\n' "$1" | socat -t 10 - UNIX-CONNECT:${ADMIN_SOCKET}`;
  const keep = `printf 'show servers state\\n' | socat -t 10 - UNIX-CONNECT:${ADMIN_SOCKET} > ${SERVER_STATE}.tmp && test -s ${SERVER_STATE}.tmp && mv -f ${SERVER_STATE}.tmp ${SERVER_STATE}`;
  return exec(PROXY, ["sh", "-ec", save ? `${ask}; ${keep}` : ask, "admin", commands.join(";")]);
}

const stats = async (): Promise<Map<string, ServerStat>> => parseStats(await admin(["show stat"]));
/** Sets the servers' weights in one exchange and saves the state; HAProxy answers a successful `set weight` with nothing. */
const setWeight = async (names: string[], weight: number) => {
  if (!names.length) return;
  await holdLock();
  const answer = (
    await admin(
      names.map((n) => `set weight app/${n} ${weight}`),
      true,
    )
  ).trim();
  if (answer) throw new Error(`HAProxy refused a weight change: ${answer.split("\n")[0]}`);
};

interface ContainerInfo {
  Id: string;
  Names: string[];
  State: string;
  Labels: Record<string, string>;
}
const list = async (): Promise<ContainerInfo[]> =>
  JSON.parse(
    await docker("GET", `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [`slipway.app=${settings.app}`] }))}`),
  );

async function pull(ref: string): Promise<void> {
  const out = await docker("POST", `/images/create?fromImage=${encodeURIComponent(ref)}`);
  const error = out
    .split("\n")
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return {};
      }
    })
    .find((m) => m.error);
  if (error) throw new Error(`the target could not pull ${ref}: ${error.error}`);
}

async function remove(name: string): Promise<void> {
  await docker("DELETE", `/containers/${name}?force=1`).catch((e: Error) => {
    if (!/404/.test(e.message)) throw e;
  });
}

/**
 * Creates and starts a replica. Its secrets are written into it as files /run/secrets/<NAME> (mode 0400, owned by
 * the image's user) before it starts; its environment names them as <NAME>_FILE, so no secret value shows in
 * `docker inspect`.
 */
async function startReplica(slot: Slot, replica: number, image: string): Promise<void> {
  const name = `${settings.app}-${slot}-${replica}`;
  await holdLock();
  await remove(name);
  const files = Object.fromEntries(Object.keys(secrets).map((n) => [`${n}_FILE`, `/run/secrets/${n}`]));
  const env = { ...settings.env, ...files, PORT: String(slotPort(settings, slot, replica)), HOST: "127.0.0.1" };
  await docker("POST", `/containers/create?name=${name}`, {
    Image: image,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      "slipway.app": settings.app,
      "slipway.environment": settings.environment,
      "slipway.slot": slot,
      "slipway.image": image,
      "slipway.previous": report.previous,
    },
    HostConfig: { NetworkMode: "host", RestartPolicy: { Name: "unless-stopped" }, Init: true },
  });
  if (Object.keys(secrets).length) {
    const { uid, gid } = await containerOwner(name);
    const tar = tarArchive([
      { name: "run/secrets/", mode: 0o500, uid, gid },
      ...Object.entries(secrets).map(([n, value]) => ({ name: `run/secrets/${n}`, mode: 0o400, uid, gid, data: value })),
    ]);
    await dockerCall("PUT", `/containers/${name}/archive?path=%2F`, tar);
  }
  await docker("POST", `/containers/${name}/start`);
}

/** Waits until the named servers pass HAProxy's health checks; fails early when a replica's container stops. */
async function waitHealthy(slot: Slot, names: string[]): Promise<void> {
  const deadline = Date.now() + settings.healthTimeoutSeconds * 1000;
  let last = new Map<string, ServerStat>();
  while (Date.now() < deadline) {
    last = await stats();
    if (names.every((n) => last.get(n)?.status.startsWith("UP"))) return;
    for (const n of names) {
      const c = JSON.parse(await docker("GET", `/containers/${settings.app}-${n}/json`));
      if (!c.State.Running && c.State.ExitCode !== 0) {
        const logs = (await docker("GET", `/containers/${settings.app}-${n}/logs?stdout=1&stderr=1&tail=3`)).replace(/[\x00-\x08]/g, ""); // eslint-disable-line no-control-regex -- Docker's log stream frames its lines with binary headers.trim();
        throw new Error(`replica ${n} exited with code ${c.State.ExitCode}: ${redact(logs).split("\n").pop()}`);
      }
    }
    await sleep(0.5);
  }
  const states = names.map((n) => `${n} ${last.get(n)?.status ?? "missing"}`).join(", ");
  throw new Error(
    `the new version (${slot}) did not pass its health check ${settings.healthPath} within ${settings.healthTimeoutSeconds}s: ${states}`,
  );
}

/** Waits (up to 15 s) for the servers' open exchanges to finish, then stops and removes their containers. */
async function retire(names: string[]): Promise<void> {
  for (let i = 0; i < 30; i++) {
    const s = await stats();
    if (names.every((n) => (s.get(n)?.current ?? 0) === 0)) break;
    await sleep(0.5);
  }
  await holdLock();
  for (const n of names) {
    await docker("POST", `/containers/${settings.app}-${n}/stop?t=10`).catch(() => undefined);
    await remove(`${settings.app}-${n}`);
  }
}

/** Makes sure the proxy runs; returns the live slot (the one taking traffic), if any. */
async function ensureProxy(containers: ContainerInfo[]): Promise<Slot | undefined> {
  const key = proxyConfigKey(settings);
  const proxy = containers.find((c) => c.Names.includes(`/${PROXY}`));
  if (proxy && proxy.Labels["slipway.proxy-config"] !== key) {
    throw new Error(
      `the proxy ${PROXY} on ${settings.environment} runs with other settings (listen, ports, replicas, health path or metric gates changed): remove it (docker rm -f ${PROXY}) during a maintenance window, then deploy again`,
    );
  }
  const running = (slot: Slot) => containers.some((c) => c.Labels["slipway.slot"] === slot && c.State === "running");
  if (proxy?.State === "running") return liveSlot();
  const live = running("blue") ? "blue" : running("green") ? "green" : undefined;
  if (proxy) {
    // its config and saved server state are on its volume: started again, it serves the weights it had
    say("starting the stopped proxy");
    await docker("POST", `/containers/${PROXY}/start`);
  } else {
    say(`starting the proxy on ${settings.listen}`);
    await pull(PROXY_IMAGE);
    // a new proxy starts from a new volume: no server state from another configuration
    await docker("DELETE", `/volumes/${PROXY}`).catch((e: Error) => {
      if (!/404/.test(e.message)) throw e;
    });
    await docker("POST", "/volumes/create", { Name: PROXY, Labels: { "slipway.app": settings.app } });
    await docker("POST", `/containers/create?name=${PROXY}`, {
      Image: PROXY_IMAGE,
      Entrypoint: ["haproxy", "-W", "-db", "-f", PROXY_CONFIG],
      Cmd: [],
      Labels: { "slipway.app": settings.app, "slipway.role": "proxy", "slipway.proxy-config": key },
      HostConfig: {
        NetworkMode: "host",
        RestartPolicy: { Name: "unless-stopped" },
        Mounts: [{ Type: "volume", Source: PROXY, Target: PROXY_DIR }],
      },
    });
    const dir = PROXY_DIR.slice(1);
    const tar = tarArchive([
      { name: `${dir}/`, mode: 0o700, uid: 0, gid: 0 },
      { name: `${dir}/haproxy.cfg`, mode: 0o600, uid: 0, gid: 0, data: haproxyConfig(settings, live) },
    ]);
    await dockerCall("PUT", `/containers/${PROXY}/archive?path=%2F`, tar);
    await docker("POST", `/containers/${PROXY}/start`);
  }
  let last = "";
  for (let i = 0; i < 40; i++) {
    try {
      await admin(["show info"]);
      return live;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(0.25);
  }
  throw new Error(`the proxy ${PROXY} did not open its runtime API ${ADMIN_SOCKET} (${last}): check its logs (docker logs ${PROXY})`);
}

const PROMETHEUS = `${settings.app}-prometheus`;
const PROMETHEUS_IMAGE = pinned(process.env.SLIPWAY_PROMETHEUS_IMAGE ?? "");

/**
 * Metric gates (settings.metrics): Prometheus beside the proxy, on loopback, scraping the proxy's exporter and every
 * replica each second; replaced when its configuration changed (its data only serves the gates of one rollout).
 */
async function ensurePrometheus(containers: ContainerInfo[]): Promise<void> {
  if (!settings.metrics) return;
  const config = prometheusConfig(settings);
  const key = createHash("sha256")
    .update(config + PROMETHEUS_IMAGE)
    .digest("hex")
    .slice(0, 16);
  const found = containers.find((c) => c.Names.includes(`/${PROMETHEUS}`));
  if (found?.Labels["slipway.prometheus-config"] === key) {
    if (found.State !== "running") await docker("POST", `/containers/${PROMETHEUS}/start`);
  } else {
    say(`starting Prometheus on 127.0.0.1:${prometheusPort(settings)} (the gates' metrics)`);
    await pull(PROMETHEUS_IMAGE);
    await docker("DELETE", `/containers/${PROMETHEUS}?force=1&v=1`).catch((e: Error) => {
      if (!/404/.test(e.message)) throw e;
    });
    await docker("POST", `/containers/create?name=${PROMETHEUS}`, {
      Image: PROMETHEUS_IMAGE,
      Cmd: [
        `--config.file=${PROMETHEUS_CONFIG}`,
        `--web.listen-address=127.0.0.1:${prometheusPort(settings)}`,
        "--storage.tsdb.path=/prometheus",
        "--storage.tsdb.retention.time=6h",
      ],
      Labels: { "slipway.app": settings.app, "slipway.role": "prometheus", "slipway.prometheus-config": key },
      HostConfig: { NetworkMode: "host", RestartPolicy: { Name: "unless-stopped" } },
    });
    const dir = PROMETHEUS_CONFIG.slice(1, PROMETHEUS_CONFIG.lastIndexOf("/"));
    const tar = tarArchive([
      { name: `${dir}/`, mode: 0o755, uid: 0, gid: 0 },
      { name: `${dir}/prometheus.yml`, mode: 0o644, uid: 0, gid: 0, data: config },
    ]);
    await dockerCall("PUT", `/containers/${PROMETHEUS}/archive?path=%2F`, tar);
    await docker("POST", `/containers/${PROMETHEUS}/start`);
  }
  let last = "";
  for (let i = 0; i < 120; i++) {
    try {
      await exec(PROMETHEUS, ["curl", "-sf", `http://127.0.0.1:${prometheusPort(settings)}/-/ready`], 5);
      return;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(0.25);
  }
  throw new Error(`Prometheus (${PROMETHEUS}) did not become ready (${last}): check its logs (docker logs ${PROMETHEUS})`);
}

/**
 * Before anything moves: Prometheus up and the queries accepted by it (a mistyped query fails here, not after the
 * traffic moved). A rollback is the way back: when Prometheus cannot serve it, it is gated on the counters alone.
 */
async function gatesReady(containers: ContainerInfo[]): Promise<void> {
  if (!settings.metrics) {
    // the gates turned off: the Prometheus an earlier deploy started for them would scrape and hold memory for nothing
    if (containers.some((c) => c.Names.includes(`/${PROMETHEUS}`))) {
      say(`removing ${PROMETHEUS}: the metric gates are off`);
      await docker("DELETE", `/containers/${PROMETHEUS}?force=1&v=1`).catch((e: Error) => {
        if (!/404/.test(e.message)) throw e;
      });
    }
    return;
  }
  try {
    await ensurePrometheus(containers);
    const g = settings.metrics;
    for (const query of [g.errorQuery, ...(g.maxP99Seconds > 0 && g.latencyQuery ? [g.latencyQuery] : [])])
      await promQuery(expandQuery(query, servers(settings, "blue"), settings.windowSeconds));
  } catch (err) {
    if (report.strategy !== "rollback") throw err;
    say(`the metric gates are unavailable (${(err as Error).message}): this rollback is gated on the proxy's counters`);
    settings.metrics = undefined;
  }
}

/** One instant query to the target's Prometheus; undefined when it has no data. */
async function promQuery(query: string): Promise<number | undefined> {
  const url = `http://127.0.0.1:${prometheusPort(settings)}/api/v1/query`;
  return queryValue(await exec(PROMETHEUS, ["curl", "-s", "--get", "--data-urlencode", `query=${query}`, url], 10));
}

/** The step's metric gates over the window just held, for the new version's servers. */
async function metricGate(fresh: string[]): Promise<{ ok: boolean; reason: string }> {
  const g = settings.metrics!;
  await sleep(1.5); // the last second of the window scraped
  const q = (query: string) => expandQuery(query, fresh, settings.windowSeconds);
  const [errorRatio, p99] = await Promise.all([
    promQuery(q(g.errorQuery)),
    g.maxP99Seconds > 0 && g.latencyQuery ? promQuery(q(g.latencyQuery)) : Promise.resolve(undefined),
  ]);
  return metricVerdict(g, settings.maxErrorRate, errorRatio, p99);
}

/** The slot taking traffic (the first with a weight above 0), if any. */
async function liveSlot(): Promise<Slot | undefined> {
  const s = await stats();
  return (["blue", "green"] as Slot[]).find((slot) => servers(settings, slot).some((n) => (s.get(n)?.weight ?? 0) > 0));
}

/** Starts the stopped replicas of names (a rolling rollout stops the old ones as it goes). */
async function startStopped(names: string[]): Promise<void> {
  for (const n of names) {
    const c = `${settings.app}-${n}`;
    const info = JSON.parse(await docker("GET", `/containers/${c}/json`));
    if (!info.State.Running) {
      await holdLock();
      await docker("POST", `/containers/${c}/start`);
    }
  }
}

/**
 * Puts a half-done rollout right: undone (the stable slot's replicas started, healthy and at 100%, the new slot at 0
 * and removed) or, when the new version had already taken all traffic, finished (the stable slot retired). Then the
 * progress is cleared. Returns the line that says so.
 */
async function restore(p: Progress): Promise<string> {
  const step = recoveryStep(p);
  const fresh = servers(settings, p.fresh);
  const stable = p.stable ? servers(settings, p.stable) : [];
  if (step === "finish") {
    await setWeight(fresh, 100);
    await setWeight(stable, 0);
    await retire(stable);
  } else {
    if (p.stable) {
      await startStopped(stable);
      await waitHealthy(p.stable, stable);
      await setWeight(stable, 100);
    }
    await setWeight(fresh, 0);
    await retire(fresh);
  }
  await clearProgress();
  const line = recoveryLine(p, step);
  say(line);
  return line;
}

/** Holds traffic `share` on `fresh` for the window and judges it. */
async function observe(fresh: string[], traffic: number, first: boolean): Promise<Step> {
  const before = await stats();
  const t0 = Date.now();
  await sleep(settings.windowSeconds);
  const counted = gate(before, await stats(), fresh, settings.maxErrorRate);
  let verdict = { ok: counted.ok, reason: counted.reason };
  // with Prometheus, the proxy's counters still gate (replicas up, failed exchanges too) and count the requests;
  // the PromQL gates must pass as well. A query that fails is a failed step: the traffic goes back.
  if (settings.metrics && !counted.reason.startsWith("health:")) {
    let promql = await metricGate(fresh).catch((err: Error) => ({ ok: false, reason: `the metric gate failed: ${err.message}` }));
    // a first deploy has nothing to fall back to, a rollback is the way back: no data is no reason to undo either
    if (!promql.ok && (first || report.strategy === "rollback") && promql.reason.startsWith("inconclusive"))
      promql = { ok: true, reason: `${promql.reason}; ${first ? "first deploy" : "rollback"}, kept` };
    // both judged, both said: the counters' reason when they failed, then PromQL's
    verdict = { ok: counted.ok && promql.ok, reason: counted.ok ? promql.reason : `${counted.reason}; ${promql.reason}` };
  }
  const step = { traffic, ...counted, ...verdict, seconds: (Date.now() - t0) / 1000 };
  report.steps.push(step);
  report.failedRequests += step.failed;
  say(`${traffic}% on the new version for ${settings.windowSeconds}s: ${step.ok ? "healthy" : "FAILED"}, ${step.reason}`);
  return step;
}

async function rollout(): Promise<number> {
  let containers = await list();
  let live = await ensureProxy(containers);
  // a rollout another run left half done: put right first (never "already live" for a canary at 10%)
  const pending = await readProgress();
  if (pending) {
    report.recovered = await restore(pending);
    containers = await list();
    live = await liveSlot();
  }
  const liveImage = live
    ? containers.find((c) => c.Labels["slipway.slot"] === live && c.State === "running")?.Labels["slipway.image"]
    : undefined;
  report.previous = liveImage ?? "";
  if (live && liveImage === settings.image) {
    report.outcome = "unchanged";
    report.reason = `${settings.image} is already live (${live})`;
    say(report.reason);
    return 0;
  }
  await gatesReady(containers);
  const slot: Slot = live ? other(live) : "blue";
  const fresh = servers(settings, slot);
  const old = live ? servers(settings, live) : [];
  say(
    `${settings.strategy} of ${settings.image} into the ${slot} slot${live ? `; ${live} (${liveImage}) keeps serving until it is healthy` : " (first deploy)"}`,
  );
  await pull(settings.image);
  const progress: Progress = {
    run: runId,
    started: new Date(started).toISOString(),
    action: report.strategy === "rollback" ? "rollback" : "deploy",
    stable: live,
    stableImage: liveImage ?? "",
    fresh: slot,
    image: settings.image,
    phase: "rolling-out",
  };
  // before anything starts or traffic moves: what serves now, and what is being rolled out
  await saveProgress(progress);

  // the new version's errors from its first request on: the failed requests of the attempt
  let attemptStart: Map<string, ServerStat> | undefined;
  const back = async (reason: string): Promise<number> => {
    say(`rolling back: ${reason}`);
    if (old.length) {
      await startStopped(old);
      await waitHealthy(live!, old);
      await setWeight(old, 100);
    }
    await setWeight(fresh, 0);
    if (attemptStart) report.failedRequests = gate(attemptStart, await stats(), fresh, 1).failed;
    await retire(fresh);
    await clearProgress();
    report.outcome = "rolled back";
    report.reason = reason;
    say(`rolled back; ${live ? `${liveImage} serves as before` : "nothing was live before"}`);
    return 1;
  };

  if (settings.strategy === "rolling" && old.length) {
    for (let i = 0; i < fresh.length; i++) {
      await startReplica(slot, i + 1, settings.image);
      try {
        await waitHealthy(slot, [fresh[i]]);
      } catch (err) {
        return back((err as Error).message);
      }
      attemptStart ??= await stats();
      await setWeight([fresh[i]], 100);
      await setWeight([old[i]], 0);
      const step = await observe(fresh.slice(0, i + 1), Math.round(((i + 1) / fresh.length) * 100), false);
      if (!step.ok) return back(step.reason);
      await docker("POST", `/containers/${settings.app}-${old[i]}/stop?t=10`);
    }
  } else {
    for (let i = 0; i < fresh.length; i++) await startReplica(slot, i + 1, settings.image);
    try {
      await waitHealthy(slot, fresh);
    } catch (err) {
      return back((err as Error).message);
    }
    attemptStart = await stats();
    for (const share of old.length ? trafficSteps(settings) : [100]) {
      // new weight first, then old: there is never a moment with no server to take a request
      await setWeight(fresh, share);
      await setWeight(old, 100 - share);
      const step = await observe(fresh, share, !old.length);
      if (!step.ok) return back(step.reason);
    }
  }
  // all traffic on the new version: from here a run that finds this half done finishes it
  await saveProgress({ ...progress, phase: "retiring" });
  await retire(old);
  await clearProgress();
  report.outcome = "deployed";
  report.reason = `${settings.image} live in the ${slot} slot`;
  say(`done: ${report.reason}${live ? `; ${liveImage} retired` : ""}`);
  return 0;
}

/**
 * After SIGINT/SIGTERM of the run that was rolling out: takes over that run's lock (or a stale one) and puts the
 * half-done rollout right. The interrupted controller checks the lock before each change and stops.
 */
async function recover(): Promise<number> {
  report.strategy = "recover";
  const how = await acquireLock(true);
  // a change the interrupted controller had already begun lands first; it checks the lock before the next one
  if (how === "own") await sleep(2.5);
  const containers = await list();
  const proxy = containers.find((c) => c.Names.includes(`/${PROXY}`));
  const pending = proxy ? (await ensureProxy(containers), await readProgress()) : undefined;
  report.outcome = pending ? "restored" : "unchanged";
  report.reason = pending ? await restore(pending) : `no rollout was in progress on ${settings.environment}: nothing to restore`;
  if (pending) [report.image, report.previous] = [pending.image, pending.stableImage];
  return 0;
}

/** The slot whose replicas serve: with a rollout half done, the one its recovery leaves serving. */
async function servingReplica(): Promise<ContainerInfo | undefined> {
  const containers = await list();
  const proxyRunning = containers.some((c) => c.Names.includes(`/${PROXY}`) && c.State === "running");
  const pending = proxyRunning ? await readProgress() : undefined;
  const slot = pending ? (recoveryStep(pending) === "finish" ? pending.fresh : pending.stable) : undefined;
  if (pending && !slot) return undefined;
  return containers.find((c) => (slot ? c.Labels["slipway.slot"] === slot : c.Labels["slipway.slot"]) && c.State === "running");
}

/** The ssh connection to the target (SLIPWAY_SSH_HOST), when it is reached over SSH. */
let tunnel: ChildProcess | undefined;
/** Its failure refuses the deploy: nothing on the target was touched. */
class Unreachable extends Error {}

/**
 * A target reached over SSH: its Docker socket forwarded to dockerSocket (and the image's loopback registry back to
 * the host's 127.0.0.1), the host key checked against the environment's known_hosts (ssh.ts).
 */
async function connect(): Promise<void> {
  const host = process.env.SLIPWAY_SSH_HOST;
  if (!host) return;
  const t = parseSshHost(host);
  const files = { key: "/run/slipway/ssh/key", knownHosts: "/run/slipway/ssh/known_hosts" };
  const args = sshTunnelArgs(t, files, dockerSocket, process.env.SLIPWAY_SSH_REGISTRY || undefined);
  say(`connecting to ${host} over SSH`);
  tunnel = await openTunnel(
    t,
    args,
    dockerSocket,
    () => docker("GET", "/_ping"),
    "the environment's known hosts (SLIPWAY_SSH_KNOWN_HOSTS)",
  ).catch((err: Error) => {
    throw new Unreachable(err.message);
  });
}

async function main(): Promise<number> {
  await connect();
  await docker("GET", "/_ping");
  if (action === "deploy") {
    await acquireLock(false);
    return rollout();
  }
  if (action === "recover") return recover();
  if (action !== "rollback" && action !== "previous") throw new Error(`unknown action ${action}`);
  if (action === "rollback") await acquireLock(false);
  // the last good version is recorded on the live replicas; it comes back by blue-green
  const live = await servingReplica();
  const previous = live?.Labels["slipway.previous"];
  if (!previous)
    throw new Error(
      `no previous version is recorded on ${settings.environment}${live ? ` (${live.Labels["slipway.image"]} was the first deploy)` : " (nothing is deployed)"}: deploy an image instead`,
    );
  if (action === "previous") {
    // what a rollback would put back, for the caller to verify first
    report.image = previous;
    report.outcome = "found";
    report.reason = `${previous} is the previous version`;
    return 0;
  }
  // the caller verified settings.image: the target must still name that version
  if (settings.image && settings.image !== previous)
    throw new Error(
      `the previous version on ${settings.environment} is now ${previous}, not the verified ${settings.image}: rerun the rollback`,
    );
  settings.image = previous;
  settings.strategy = "blue-green";
  report.image = previous;
  report.strategy = "rollback";
  return rollout();
}

main().then(
  (code) => finish(code),
  (err: Error) => {
    report.reason = redact(err.message);
    if (err instanceof Locked) {
      report.outcome = "locked";
      return finish(4);
    }
    if (err instanceof Unreachable) {
      report.outcome = "refused";
      return finish(1);
    }
    if (err instanceof LockLost) {
      report.outcome = "interrupted";
      say(`stopped: ${report.reason}`);
      return finish(3);
    }
    report.outcome = "failed";
    process.stdout.write(`deploy ${settings.environment}: failed: ${report.reason}\n`);
    return finish(2);
  },
);

// stopped from outside (its run's session ended): the lock is released; the progress stays for the next run
for (const sig of ["SIGTERM", "SIGINT"] as const)
  process.once(sig, () => {
    report.outcome = "interrupted";
    report.reason = `stopped by ${sig}; the next deploy or rollback puts a half-done rollout right`;
    void finish(sig === "SIGINT" ? 130 : 143);
  });

let finishing = false;
/** Releases the lock (on every way out), writes the report and exits. */
async function finish(code: number): Promise<void> {
  if (finishing) return;
  finishing = true;
  await releaseLock();
  tunnel?.kill();
  report.durationSeconds = (Date.now() - started) / 1000;
  mkdirSync("/out", { recursive: true });
  writeFileSync("/out/deploy.json", JSON.stringify(report, null, 2) + "\n");
  process.exit(code);
}
