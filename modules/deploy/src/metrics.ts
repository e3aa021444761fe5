/**
 * Metric gates from Prometheus (SLIPWAY_GATE_METRICS=prometheus): a Prometheus beside the proxy on the target
 * scrapes HAProxy's exporter and each replica's /metrics every second; each traffic step's gate is a PromQL query
 * per measure with a threshold, on top of the proxy's counters (which still gate health and failed exchanges). The
 * error ratio's default is the proxy's 5xx ratio of the new version's servers; the p99 latency's reads the app's
 * request histogram (the standard http_request_duration_seconds of prom-client and its kind), health checks and
 * scrapes left out. A query with no data is inconclusive: the step does not pass. Pure: shared by the module and
 * the rollout controller (plain node, type stripping).
 */

/** The gates' queries and thresholds; $servers (the new version's servers, a regex) and $window are filled in. */
export interface MetricGates {
  errorQuery: string;
  /** "" : no latency gate */
  latencyQuery: string;
  /** the p99 latency's ceiling in seconds (0: no latency gate) */
  maxP99Seconds: number;
}

export const DEFAULT_ERROR_QUERY =
  'sum(increase(haproxy_server_http_responses_total{proxy="app",server=~"$servers",code="5xx"}[$window])) / sum(increase(haproxy_server_http_responses_total{proxy="app",server=~"$servers"}[$window]))';
export const DEFAULT_LATENCY_QUERY =
  'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="app",server=~"$servers",route!~"/health|/metrics"}[$window])))';

/** Where HAProxy's Prometheus exporter and Prometheus listen on the target (loopback; past both slots' ports). */
export const exporterPort = (s: { appPort: number }) => s.appPort + 190;
export const prometheusPort = (s: { appPort: number }) => s.appPort + 191;
/** The Prometheus configuration's path in its container. */
export const PROMETHEUS_CONFIG = "/etc/slipway-prometheus/prometheus.yml";

/** A PromQL query from the environment: one line, with no character that would end the controller's quoting. */
export function checkQuery(query: string, where: string): string {
  if (/^[\x20-\x7e]{1,2000}$/.test(query) && query.trim()) return query;
  throw new Error(
    `${where}=${JSON.stringify(query.slice(0, 80))} is not a PromQL query on one line (printable ASCII, at most 2000 characters)`,
  );
}

/** The query with $servers and $window filled in. */
export function expandQuery(query: string, servers: string[], windowSeconds: number): string {
  const window = `${Math.max(2, Math.round(windowSeconds))}s`;
  return query.replaceAll("$servers", servers.join("|")).replaceAll("$window", window);
}

/** The scrape configuration: the proxy's exporter, and every replica port of both slots labelled with its server. */
export function prometheusConfig(s: { appPort: number; replicas: number }): string {
  const port = (slot: "blue" | "green", i: number) => s.appPort + (slot === "green" ? 100 : 0) + i;
  const targets = (["blue", "green"] as const).flatMap((slot) =>
    Array.from({ length: s.replicas }, (_, i) => [
      `      - targets: ["127.0.0.1:${port(slot, i)}"]`,
      `        labels: { server: "${slot}-${i + 1}", slot: "${slot}" }`,
    ]).flat(),
  );
  return [
    "global:",
    "  scrape_interval: 1s",
    "  scrape_timeout: 1s",
    "  evaluation_interval: 1s",
    "scrape_configs:",
    "  - job_name: proxy",
    "    static_configs:",
    `      - targets: ["127.0.0.1:${exporterPort(s)}"]`,
    "  - job_name: app",
    "    static_configs:",
    ...targets,
    "",
  ].join("\n");
}

/** The value of an instant query's answer (Prometheus's /api/v1/query JSON); undefined when it has no data. */
export function queryValue(answer: string): number | undefined {
  let parsed: { status: string; error?: string; data?: { resultType: string; result: unknown } };
  try {
    parsed = JSON.parse(answer);
  } catch {
    throw new Error(`Prometheus did not answer the query (${answer.trim().slice(0, 120) || "no output"})`);
  }
  if (parsed.status !== "success") throw new Error(`Prometheus refused the query: ${parsed.error ?? parsed.status}`);
  const { resultType, result } = parsed.data ?? { resultType: "none", result: undefined };
  let raw: string | undefined;
  if (resultType === "scalar") raw = (result as [number, string])[1];
  else if (resultType === "vector") {
    const series = result as { value: [number, string] }[];
    if (series.length > 1)
      throw new Error(`the query returns ${series.length} series, not one value: aggregate it (e.g. sum(...) or max(...))`);
    raw = series[0]?.value[1];
  } else throw new Error(`the query returns a ${resultType}, not one value: write an instant query that aggregates to one number`);
  // NaN (0/0: no requests, an empty histogram) is no data; +Inf is a value, above any ceiling
  const n = raw === undefined ? NaN : raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
  return Number.isNaN(n) ? undefined : n;
}

export interface MetricVerdict {
  ok: boolean;
  errorRatio?: number;
  p99Seconds?: number;
  reason: string;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ms = (s: number) => `${Math.round(s * 1000)} ms`;

/** The step's verdict from the queries' values (undefined: no data, inconclusive). */
export function metricVerdict(
  g: MetricGates,
  maxErrorRate: number,
  errorRatio: number | undefined,
  p99: number | undefined,
): MetricVerdict {
  const latency = g.maxP99Seconds > 0 && g.latencyQuery;
  if (errorRatio === undefined)
    return {
      ok: false,
      reason: "inconclusive: the error-ratio query has no data (no requests reached the new version, or nothing scraped them)",
    };
  if (errorRatio > maxErrorRate)
    return { ok: false, errorRatio, reason: `error ratio ${pct(errorRatio)} above ${pct(maxErrorRate)} (PromQL)` };
  if (latency && p99 === undefined)
    return {
      ok: false,
      errorRatio,
      reason: "inconclusive: the p99-latency query has no data (does the app expose http_request_duration_seconds?)",
    };
  if (latency && p99! > g.maxP99Seconds)
    return { ok: false, errorRatio, p99Seconds: p99, reason: `p99 latency ${ms(p99!)} above ${ms(g.maxP99Seconds)} (PromQL)` };
  const parts = [`error ratio ${pct(errorRatio)}`, ...(latency ? [`p99 ${ms(p99!)}`] : [])];
  return { ok: true, errorRatio, p99Seconds: p99, reason: `${parts.join(", ")} (PromQL)` };
}
