/**
 * The rollout controller: runs under plain node in a container (`node controller.ts deploy|rollback`), talks to
 * the target's Docker engine (DOCKER_HOST=tcp://...) and to HAProxy's runtime API (SLIPWAY_PROXY_ADMIN=host:port).
 * Settings come as JSON in SLIPWAY_DEPLOY; the app's secrets as SLIPWAY_SECRET_<NAME> variables. Progress goes to
 * stdout, the report to /out/deploy.json. Exit 0: deployed (or already live); 1: refused or rolled back, with the
 * previous version serving; 2: an error before any traffic moved.
 */
import { request } from "node:http";
import { connect } from "node:net";
import { mkdirSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import {
  gate,
  type GateResult,
  haproxyConfig,
  other,
  parseStats,
  type DeploySettings,
  servers,
  type ServerStat,
  type Slot,
  slotPort,
  trafficSteps,
} from "../src/plan.ts";

const settings = JSON.parse(process.env.SLIPWAY_DEPLOY ?? "{}") as DeploySettings & { previous?: string };
const action = process.argv[2] ?? "deploy";
const dockerUrl = new URL((process.env.DOCKER_HOST ?? "").replace(/^tcp:/, "http:"));
const [adminHost, adminPort] = (process.env.SLIPWAY_PROXY_ADMIN ?? "").split(":");
const secrets: Record<string, string> = Object.fromEntries(settings.secretNames.map((n) => [n, process.env[`SLIPWAY_SECRET_${n}`] ?? ""]));
const PROXY = `${settings.app}-proxy`;
const started = Date.now();

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

/** One call to the Docker Engine API; rejects on HTTP errors with Docker's message. */
function docker(method: string, path: string, body?: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: dockerUrl.hostname,
        port: dockerUrl.port,
        method,
        path: `/v1.41${path}`,
        headers: body ? { "Content-Type": "application/json" } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          if ((res.statusCode ?? 500) >= 400)
            reject(
              new Error(
                `Docker ${method} ${path.split("?")[0]}: ${res.statusCode} ${(() => {
                  try {
                    return JSON.parse(text).message;
                  } catch {
                    return text.trim();
                  }
                })()}`,
              ),
            );
          else resolve(text);
        });
      },
    );
    req.on("error", (err) => reject(new Error(`the Docker engine at ${process.env.DOCKER_HOST} does not answer (${err.message})`)));
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

/** A command on HAProxy's runtime API. */
function admin(cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(Number(adminPort), adminHost, () => sock.end(`${cmd}\n`));
    const chunks: Buffer[] = [];
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.on("end", () => resolve(Buffer.concat(chunks).toString()));
    sock.on("error", reject);
  });
}

const stats = async (): Promise<Map<string, ServerStat>> => parseStats(await admin("show stat"));
const setWeight = async (names: string[], weight: number) => {
  for (const n of names) await admin(`set weight app/${n} ${weight}`);
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

async function startReplica(slot: Slot, replica: number, image: string): Promise<void> {
  const name = `${settings.app}-${slot}-${replica}`;
  await remove(name);
  const env = { ...settings.env, ...secrets, PORT: String(slotPort(settings, slot, replica)), HOST: "127.0.0.1" };
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
  for (const n of names) {
    await docker("POST", `/containers/${settings.app}-${n}/stop?t=10`).catch(() => undefined);
    await remove(`${settings.app}-${n}`);
  }
}

/** Makes sure the proxy runs; returns the live slot (the one taking traffic), if any. */
async function ensureProxy(containers: ContainerInfo[]): Promise<Slot | undefined> {
  const key = createHash("sha256").update(haproxyConfig(settings, undefined)).digest("hex").slice(0, 16);
  const proxy = containers.find((c) => c.Names.includes(`/${PROXY}`));
  if (proxy && proxy.Labels["slipway.proxy-config"] !== key) {
    throw new Error(
      `the proxy ${PROXY} on ${settings.environment} runs with other settings (listen, ports, replicas or health path changed): remove it (docker rm -f ${PROXY}) during a maintenance window, then deploy again`,
    );
  }
  const running = (slot: Slot) => containers.some((c) => c.Labels["slipway.slot"] === slot && c.State === "running");
  if (proxy?.State === "running") {
    const s = await stats();
    const live = (["blue", "green"] as Slot[]).find((slot) => servers(settings, slot).some((n) => (s.get(n)?.weight ?? 0) > 0));
    return live;
  }
  const live = running("blue") ? "blue" : running("green") ? "green" : undefined;
  say(proxy ? "starting the stopped proxy" : `starting the proxy on ${settings.listen}`);
  await pull("haproxy:2.6");
  await remove(PROXY);
  await docker("POST", `/containers/create?name=${PROXY}`, {
    Image: "haproxy:2.6",
    Env: [`HAPROXY_CFG=${haproxyConfig(settings, live)}`],
    Entrypoint: ["sh", "-c", 'printf "%s" "$HAPROXY_CFG" > /tmp/haproxy.cfg && exec haproxy -W -db -f /tmp/haproxy.cfg'],
    Cmd: [],
    Labels: { "slipway.app": settings.app, "slipway.role": "proxy", "slipway.proxy-config": key },
    HostConfig: { NetworkMode: "host", RestartPolicy: { Name: "unless-stopped" } },
  });
  await docker("POST", `/containers/${PROXY}/start`);
  for (let i = 0; i < 40; i++) {
    if (
      await admin("show info").then(
        () => true,
        () => false,
      )
    )
      return live;
    await sleep(0.25);
  }
  throw new Error(
    `the proxy ${PROXY} did not open its runtime API on 127.0.0.1:${settings.adminPort}: check its logs (docker logs ${PROXY})`,
  );
}

/** Holds traffic `share` on `fresh` for the window and judges it. */
async function observe(fresh: string[], traffic: number): Promise<Step> {
  const before = await stats();
  const t0 = Date.now();
  await sleep(settings.windowSeconds);
  const step = { traffic, ...gate(before, await stats(), fresh, settings.maxErrorRate), seconds: (Date.now() - t0) / 1000 };
  report.steps.push(step);
  report.failedRequests += step.failed;
  say(`${traffic}% on the new version for ${settings.windowSeconds}s: ${step.ok ? "healthy" : "FAILED"}, ${step.reason}`);
  return step;
}

async function rollout(): Promise<number> {
  const containers = await list();
  const live = await ensureProxy(containers);
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
  const slot: Slot = live ? other(live) : "blue";
  const fresh = servers(settings, slot);
  const old = live ? servers(settings, live) : [];
  say(
    `${settings.strategy} of ${settings.image} into the ${slot} slot${live ? `; ${live} (${liveImage}) keeps serving until it is healthy` : " (first deploy)"}`,
  );
  await pull(settings.image);

  // the new version's errors from its first request on: the failed requests of the attempt
  let attemptStart: Map<string, ServerStat> | undefined;
  const back = async (reason: string): Promise<number> => {
    say(`rolling back: ${reason}`);
    if (old.length) {
      for (const n of old) {
        const c = `${settings.app}-${n}`;
        const info = JSON.parse(await docker("GET", `/containers/${c}/json`));
        if (!info.State.Running) await docker("POST", `/containers/${c}/start`);
      }
      await waitHealthy(live!, old);
      await setWeight(old, 100);
    }
    await setWeight(fresh, 0);
    if (attemptStart) report.failedRequests = gate(attemptStart, await stats(), fresh, 1).failed;
    await retire(fresh);
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
      const step = await observe(fresh.slice(0, i + 1), Math.round(((i + 1) / fresh.length) * 100));
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
      const step = await observe(fresh, share);
      if (!step.ok) return back(step.reason);
    }
  }
  await retire(old);
  report.outcome = "deployed";
  report.reason = `${settings.image} live in the ${slot} slot`;
  say(`done: ${report.reason}${live ? `; ${liveImage} retired` : ""}`);
  return 0;
}

async function main(): Promise<number> {
  await docker("GET", "/_ping");
  if (action === "deploy") return rollout();
  if (action !== "rollback") throw new Error(`unknown action ${action}`);
  // the last good version is recorded on the live replicas; it comes back by blue-green
  const live = (await list()).find((c) => c.Labels["slipway.slot"] && c.State === "running");
  const previous = live?.Labels["slipway.previous"];
  if (!previous)
    throw new Error(
      `no previous version is recorded on ${settings.environment}${live ? ` (${live.Labels["slipway.image"]} was the first deploy)` : " (nothing is deployed)"}: deploy an image instead`,
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
    report.outcome = "failed";
    report.reason = redact(err.message);
    process.stdout.write(`deploy ${settings.environment}: failed: ${report.reason}\n`);
    finish(2);
  },
);

function finish(code: number): void {
  report.durationSeconds = (Date.now() - started) / 1000;
  mkdirSync("/out", { recursive: true });
  writeFileSync("/out/deploy.json", JSON.stringify(report, null, 2) + "\n");
  process.exit(code);
}
