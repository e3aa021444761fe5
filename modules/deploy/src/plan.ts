/**
 * The pure parts of a deploy to a Docker host behind HAProxy: the settings, the proxy's configuration, the
 * reading of its statistics and the gate over a window. Shared by the module and the rollout controller, which
 * runs under plain node (type stripping): no enums, no parameter properties, type-only imports marked as such.
 */

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
  /** HAProxy's runtime API on the target's loopback */
  adminPort: number;
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
}

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
 * 0 except the live slot. Connection failures and empty responses are retried on another server (a replica going
 * away never costs a request); 5xx responses are not, so a broken version shows in the statistics.
 */
export function haproxyConfig(s: DeploySettings, live: Slot | undefined): string {
  const line = (slot: Slot) =>
    servers(s, slot).map((name, i) => `  server ${name} 127.0.0.1:${slotPort(s, slot, i + 1)} check weight ${slot === live ? 100 : 0}`);
  return [
    "global",
    `  stats socket ipv4@127.0.0.1:${s.adminPort} level admin`,
    "  hard-stop-after 30s",
    "defaults",
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
