/** Metric gates from Prometheus: the queries filled in, the scrape configuration, the answers and the verdicts. */
import { describe, expect, it } from "vitest";
import {
  checkQuery,
  DEFAULT_ERROR_QUERY,
  DEFAULT_LATENCY_QUERY,
  expandQuery,
  metricVerdict,
  prometheusConfig,
  queryValue,
} from "../src/metrics.ts";
import { haproxyConfig, type DeploySettings } from "../src/plan.ts";

const gates = { errorQuery: DEFAULT_ERROR_QUERY, latencyQuery: DEFAULT_LATENCY_QUERY, maxP99Seconds: 0.25 };

describe("metric gates", () => {
  it("the queries name the new version's servers and the window", () => {
    const q = expandQuery(DEFAULT_ERROR_QUERY, ["green-1", "green-2"], 5);
    expect(q).toBe(
      'sum(increase(haproxy_server_http_responses_total{proxy="app",server=~"green-1|green-2",code="5xx"}[5s])) / sum(increase(haproxy_server_http_responses_total{proxy="app",server=~"green-1|green-2"}[5s]))',
    );
    expect(expandQuery(DEFAULT_LATENCY_QUERY, ["blue-1"], 0.5)).toContain('server=~"blue-1",route!~"/health|/metrics"}[2s]');
    expect(() => checkQuery("sum(x)\nsum(y)", "SLIPWAY_GATE_ERROR_QUERY")).toThrow(/is not a PromQL query on one line/);
  });

  it("Prometheus scrapes the proxy's exporter and each replica port, labelled with its server", () => {
    const config = prometheusConfig({ appPort: 19000, replicas: 2 });
    expect(config).toContain('      - targets: ["127.0.0.1:19190"]');
    expect(config).toContain('      - targets: ["127.0.0.1:19101"]\n        labels: { server: "green-2", slot: "green" }');
    expect(config).toMatch(/scrape_interval: 1s/);
    const s = { listen: "127.0.0.1:18081", appPort: 19000, replicas: 2, healthPath: "/health" } as DeploySettings;
    expect(haproxyConfig(s, "blue")).not.toContain("prometheus-exporter");
    expect(haproxyConfig({ ...s, metrics: gates }, "blue")).toContain(
      "frontend metrics\n  bind 127.0.0.1:19190\n  http-request use-service prometheus-exporter if { path /metrics }",
    );
  });

  it("an answer's value; no data (empty, NaN) is undefined; an error is an error", () => {
    expect(queryValue('{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.25"]}]}}')).toBe(0.25);
    expect(queryValue('{"status":"success","data":{"resultType":"vector","result":[]}}')).toBeUndefined();
    expect(queryValue('{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}')).toBeUndefined();
    expect(queryValue('{"status":"success","data":{"resultType":"scalar","result":[1,"3"]}}')).toBe(3);
    expect(() => queryValue('{"status":"error","error":"parse error at char 5"}')).toThrow(
      /Prometheus refused the query: parse error at char 5/,
    );
    expect(queryValue('{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"+Inf"]}]}}')).toBe(Infinity);
    expect(() =>
      queryValue(
        '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]},{"metric":{},"value":[1,"2"]}]}}',
      ),
    ).toThrow(/^the query returns 2 series, not one value: aggregate it/);
    expect(() => queryValue('{"status":"success","data":{"resultType":"matrix","result":[]}}')).toThrow(/returns a matrix, not one value/);
    expect(() => queryValue("curl: (7) Failed to connect")).toThrow(
      /^Prometheus did not answer the query \(curl: \(7\) Failed to connect\)$/,
    );
  });

  it("verdicts: passed, above a threshold, inconclusive without data", () => {
    expect(metricVerdict(gates, 0.01, 0, 0.012)).toEqual({
      ok: true,
      errorRatio: 0,
      p99Seconds: 0.012,
      reason: "error ratio 0.0%, p99 12 ms (PromQL)",
    });
    expect(metricVerdict(gates, 0.01, 0.5, 0.01).reason).toBe("error ratio 50.0% above 1.0% (PromQL)");
    expect(metricVerdict(gates, 0.01, 0, 0.4).reason).toBe("p99 latency 400 ms above 250 ms (PromQL)");
    expect(metricVerdict(gates, 0.01, undefined, 0.01)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^inconclusive: the error-ratio query has no data/),
    });
    expect(metricVerdict(gates, 0.01, 0, undefined)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^inconclusive: the p99-latency query has no data/),
    });
    expect(metricVerdict({ ...gates, maxP99Seconds: 0 }, 0.01, 0, undefined)).toMatchObject({
      ok: true,
      reason: "error ratio 0.0% (PromQL)",
    });
  });
});
