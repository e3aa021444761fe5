/**
 * The pure parts of a deploy to a Docker host behind HAProxy: the settings, the proxy's configuration, the
 * reading of its statistics and the gate over a window. Shared by the module and the rollout controller, which
 * runs under plain node (type stripping): no enums, no parameter properties, type-only imports marked as such.
 */

import { exporterPort, type MetricGates } from "./metrics.ts";

export const STRATEGIES = ["rolling", "blue-green", "canary"] as const;
export type Strategy = (typeof STRATEGIES)[number];
export type Slot = "blue" | "green";

/** Everything a rollout needs except secrets (those travel as Dagger Secrets, by name in `secretNames`). */
export interface DeploySettings {
  app: string;
  environment: string;
  image: string;
  strategy: Strategy;
  replicas: number;
  /** The proxy's public listener, e.g. 127.0.0.1:18081 */
  listen: string;
  /** First port of the blue slot; green uses appPort + 100 */
  appPort: number;
  healthPath: string;
  healthTimeoutSeconds: number;
  windowSeconds: number;
  maxErrorRate: number;
  canarySteps: number[];
  /** Plain environment for the app container */
  env: Record<string, string>;
  /** Names of the secret environment variables for the app container */
  secretNames: string[];
  /** The run this rollout belongs to (named in the lock; its own recovery may take the lock over) */
  run?: string;
  /** Gates from Prometheus (metrics.ts) instead of the proxy's counters; absent: the counters */
  metrics?: MetricGates;
}

/** The proxy's named Docker volume is mounted here: its config, its runtime API socket and its saved server state. */
export const PROXY_DIR = "/run/haproxy";
export const ADMIN_SOCKET = `${PROXY_DIR}/admin.sock`;
export const SERVER_STATE = `${PROXY_DIR}/server-state`;
export const PROXY_CONFIG = `${PROXY_DIR}/haproxy.cfg`;

export const other = (slot: Slot): Slot => (slot === "blue" ? "green" : "blue");

export function serverName(slot: Slot, replica: number): string {
  return `${slot}-${replica}`;
}

export function slotPort(s: Pick<DeploySettings, "appPort">, slot: Slot, replica: number): number {
  return s.appPort + (slot === "green" ? 100 : 0) + replica - 1;
}

export function servers(s: Pick<DeploySettings, "replicas">, slot: Slot): string[] {
  return Array.from({ length: s.replicas }, (_, i) => serverName(slot, i + 1));
}

/** "5s", "2m", "500ms" or a bare number of seconds. */
export function parseDuration(text: string, where: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`${where}="${text}" is not a duration: write e.g. 5s, 500ms or 2m`);
  const n = Number(m[1]);
  return m[2] === "ms" ? n / 1000 : m[2] === "m" ? n * 60 : n;
}

/** "10,50,100": ascending percentages ending at 100. */
export function parseSteps(text: string, where: string): number[] {
  const steps = text.split(",").map((s) => Number(s.trim()));
  const ok = steps.length > 0 && steps.every((n, i) => Number.isInteger(n) && n > 0 && n <= 100 && (i === 0 || n > steps[i - 1]));
  if (!ok || steps[steps.length - 1] !== 100)
    throw new Error(`${where}="${text}" is not a list of rising percentages ending at 100: write e.g. 10,50,100`);
  return steps;
}

/**
 * HAProxy's configuration: one frontend, one backend with both slots' servers, health-checked, all with weight
 * 0 except the live slot. The runtime API is a mode-600 unix socket on the proxy's volume (no TCP); the weights
 * set through it are saved to the server-state file there and loaded again when HAProxy restarts, so the live
 * slot and a canary's split survive a restart of the proxy or of the target. Connection failures and empty responses are retried on another server (a replica going
 * away never costs a request); 5xx responses are not, so a broken version shows in the statistics.
 */
export function haproxyConfig(s: DeploySettings, live: Slot | undefined): string {
  const line = (slot: Slot) =>
    servers(s, slot).map((name, i) => `  server ${name} 127.0.0.1:${slotPort(s, slot, i + 1)} check weight ${slot === live ? 100 : 0}`);
  return [
    "global",
    `  stats socket ${ADMIN_SOCKET} mode 600 level admin`,
    `  server-state-file ${SERVER_STATE}`,
    "  hard-stop-after 30s",
    "defaults",
    "  load-server-state-from-file global",
    "  mode http",
    "  timeout connect 2s",
    "  timeout client 30s",
    "  timeout server 30s",
    "  timeout http-keep-alive 5s",
    "  retries 3",
    "  option redispatch 1",
    "  retry-on conn-failure empty-response response-timeout",
    "frontend web",
    `  bind ${s.listen}`,
    "  default_backend app",
    "backend app",
    "  balance roundrobin",
    "  option http-buffer-request",
    `  option httpchk GET ${s.healthPath}`,
    "  http-check expect status 200",
    "  default-server inter 500ms fall 2 rise 2",
    ...line("blue"),
    ...line("green"),
    // the proxy's counters for Prometheus, on loopback only
    ...(s.metrics
      ? ["frontend metrics", `  bind 127.0.0.1:${exporterPort(s)}`, "  http-request use-service prometheus-exporter if { path /metrics }"]
      : []),
    "",
  ].join("\n");
}

/** One server's row of `show stat`. */
export interface ServerStat {
  name: string;
  status: string;
  weight: number;
  /** current sessions */
  current: number;
  /** responses by class, and errors talking to the server (connection, response) */
  responses: number;
  errors5xx: number;
  failures: number;
}

/** Parses HAProxy's `show stat` CSV into the backend's server rows. */
export function parseStats(csv: string, backend = "app"): Map<string, ServerStat> {
  const lines = csv.trim().split("\n");
  const header = lines[0].replace(/^# /, "").split(",");
  const col = (row: string[], name: string) => row[header.indexOf(name)] ?? "";
  const num = (row: string[], name: string) => Number(col(row, name) || 0);
  const out = new Map<string, ServerStat>();
  for (const line of lines.slice(1)) {
    const row = line.split(",");
    const name = col(row, "svname");
    if (col(row, "pxname") !== backend || name === "BACKEND" || name === "FRONTEND") continue;
    out.set(name, {
      name,
      status: col(row, "status"),
      weight: num(row, "weight"),
      current: num(row, "scur"),
      responses: ["hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"].reduce((n, c) => n + num(row, c), 0),
      errors5xx: num(row, "hrsp_5xx"),
      failures: num(row, "econ") + num(row, "eresp"),
    });
  }
  return out;
}

export interface GateResult {
  ok: boolean;
  requests: number;
  failed: number;
  errorRate: number;
  reason: string;
}

/**
 * The gate over a window: every server of the new version up, and its error rate (5xx plus failed exchanges, over
 * all its responses) at most maxErrorRate.
 */
export function gate(before: Map<string, ServerStat>, after: Map<string, ServerStat>, names: string[], maxErrorRate: number): GateResult {
  let requests = 0;
  let failed = 0;
  const down: string[] = [];
  for (const name of names) {
    const a = after.get(name);
    const b = before.get(name);
    if (!a || !a.status.startsWith("UP")) down.push(`${name} ${a?.status ?? "missing"}`);
    requests += (a?.responses ?? 0) - (b?.responses ?? 0) + (a?.failures ?? 0) - (b?.failures ?? 0);
    failed += (a?.errors5xx ?? 0) - (b?.errors5xx ?? 0) + (a?.failures ?? 0) - (b?.failures ?? 0);
  }
  const errorRate = requests ? failed / requests : 0;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  if (down.length) return { ok: false, requests, failed, errorRate, reason: `health: ${down.join(", ")}` };
  if (errorRate > maxErrorRate) {
    return {
      ok: false,
      requests,
      failed,
      errorRate,
      reason: `error rate ${pct(errorRate)} (${failed} of ${requests}) above ${pct(maxErrorRate)}`,
    };
  }
  return { ok: true, requests, failed, errorRate, reason: `error rate ${pct(errorRate)} (${failed} of ${requests})` };
}

/** The traffic steps of a strategy, as the new version's share in percent. */
export function trafficSteps(s: Pick<DeploySettings, "strategy" | "canarySteps">): number[] {
  return s.strategy === "canary" ? s.canarySteps : [100];
}

/*
 * All-or-nothing deploys. A run holds a lock per app on its target (a container created under a fixed name, never
 * started: Docker refuses a second one with the same name) and beats on it; its progress is a file on the proxy's
 * volume, written before any traffic moves. A run that dies leaves both behind, and the next run finds them.
 */

/** Seconds between a lock holder's heartbeats, and without one after which a lock is stale (its holder died). */
export const LOCK_BEAT_SECONDS = 2;
export const LOCK_STALE_SECONDS = 15;
/** The rollout's progress on the proxy's volume (written to a temp file, then renamed). */
export const PROGRESS_FILE = `${PROXY_DIR}/deploy-progress.json`;

export const lockName = (app: string) => `${app}-deploy-lock`;

/** Who holds a lock: the run (the CLI's run id), the holder's own token, when it started and its last heartbeat (ms). */
export interface LockRecord {
  run: string;
  token: string;
  started: string;
  beat: number;
}

/**
 * What a run may do about the lock it found: "free" (none), "held" (a live holder: refuse), "stale" (no heartbeat
 * for LOCK_STALE_SECONDS: take it over), "own" (the same run's, taken over by its own recovery when ownRun).
 */
export function lockDecision(lock: LockRecord | undefined, run: string, now: number, ownRun = false): "free" | "held" | "stale" | "own" {
  if (!lock) return "free";
  if (now - lock.beat > LOCK_STALE_SECONDS * 1000) return "stale";
  if (ownRun && lock.run === run) return "own";
  return "held";
}

/** The refusal when another run holds the lock: one line naming the holder and the fix. */
export function lockedMessage(lock: LockRecord, now: number): string {
  const ago = Math.max(0, Math.round((now - lock.beat) / 1000));
  return (
    `locked by ${lock.run}, started ${lock.started}: wait for it, or, if that run is gone, deploy again once its lock ` +
    `has had no heartbeat for ${LOCK_STALE_SECONDS}s (last ${ago}s ago; the next run then restores whatever it left half done)`
  );
}

/** A rollout in progress: the slot that served before it (none on a first deploy) and what is being rolled out. */
export interface Progress {
  run: string;
  started: string;
  action: string;
  stable?: Slot;
  stableImage: string;
  fresh: Slot;
  image: string;
  /** rolling-out: until every traffic step passed (undo it); retiring: the new version took all traffic (finish it) */
  phase: "rolling-out" | "retiring";
}

/** Parses the progress file; undefined when there is none. A file that does not parse names itself and the fix. */
export function parseProgress(text: string): Progress | undefined {
  if (!text.trim()) return undefined;
  let p: Partial<Progress>;
  try {
    p = JSON.parse(text) as Partial<Progress>;
  } catch {
    p = {};
  }
  const slot = (s: unknown) => s === "blue" || s === "green";
  if (
    !slot(p.fresh) ||
    (p.stable !== undefined && !slot(p.stable)) ||
    typeof p.image !== "string" ||
    !/^(rolling-out|retiring)$/.test(p.phase ?? "")
  )
    throw new Error(`${PROGRESS_FILE} on the proxy is not a rollout's progress: inspect it, put the traffic right by hand, then remove it`);
  return { run: "", started: "", action: "deploy", stableImage: "", ...p } as Progress;
}

/** What the next run does with a half-done rollout: undo it (the stable slot takes all traffic back) or finish it. */
export function recoveryStep(p: Progress): "undo" | "finish" {
  return p.phase === "retiring" ? "finish" : "undo";
}

/** The line that says what a recovery did. */
export function recoveryLine(p: Progress, step: "undo" | "finish"): string {
  const who = `${p.action} of ${p.image} by ${p.run} (started ${p.started})`;
  if (step === "finish")
    return `finished the interrupted ${who}: it takes all traffic in the ${p.fresh} slot, ${p.stableImage || "nothing"} retired`;
  if (!p.stable) return `undid the interrupted ${who}: its ${p.fresh} replicas removed; nothing was live before`;
  return `restored ${p.stableImage} (${p.stable}) to 100% of the traffic after the interrupted ${who}; its ${p.fresh} replicas removed`;
}
