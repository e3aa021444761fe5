import { describe, expect, it } from "vitest";
import { gate, haproxyConfig, parseDuration, parseStats, parseSteps, slotPort, type DeploySettings } from "../src/plan.ts";
import { setKustomizeImage } from "../src/kustomize.ts";
import { parseServerState, proxyConfigKey } from "../src/docker-api.ts";

const settings: DeploySettings = {
  app: "node-api",
  environment: "staging",
  image: "r/a@sha256:0",
  strategy: "canary",
  replicas: 2,
  listen: "127.0.0.1:18081",
  appPort: 19000,
  healthPath: "/health",
  healthTimeoutSeconds: 60,
  windowSeconds: 5,
  maxErrorRate: 0.01,
  canarySteps: [10, 50, 100],
  env: {},
  secretNames: [],
};

/** A `show stat` CSV with the columns the parser reads, in HAProxy's order of appearance. */
function csv(rows: [string, string, number, number, number, number][]): string {
  const head = "# pxname,svname,scur,econ,eresp,weight,status,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other";
  return [
    head,
    "web,FRONTEND,0,,,,OPEN,0,0,0,0,0,0",
    ...rows.map(([sv, status, weight, ok, e5, econ]) => `app,${sv},0,${econ},0,${weight},${status},0,${ok},0,0,${e5},0`),
    "app,BACKEND,0,0,0,200,UP,0,0,0,0,0,0",
  ].join("\n");
}

describe("deploy plan", () => {
  it("HAProxy config: both slots' servers health-checked, only the live slot weighted, retries on connection failures only, admin on a unix socket, state kept", () => {
    const cfg = haproxyConfig(settings, "green");
    expect(cfg).toContain("stats socket /run/haproxy/admin.sock mode 600 level admin");
    expect(cfg).not.toMatch(/ipv4@|stats socket \S*:\d/); // no runtime API on TCP
    // the weights set at run time are saved there and loaded again when HAProxy restarts
    expect(cfg).toContain("server-state-file /run/haproxy/server-state");
    expect(cfg).toMatch(/\ndefaults\n {2}load-server-state-from-file global\n/);
    expect(cfg).toContain("bind 127.0.0.1:18081");
    expect(cfg).toContain("option httpchk GET /health");
    expect(cfg).toContain("server blue-1 127.0.0.1:19000 check weight 0");
    expect(cfg).toContain("server green-2 127.0.0.1:19101 check weight 100");
    expect(cfg).toMatch(/retry-on conn-failure empty-response response-timeout\n/);
    expect(slotPort(settings, "green", 1)).toBe(19100);
  });

  it("the gate judges the new servers' health and error rate over the window", () => {
    const before = parseStats(
      csv([
        ["green-1", "UP", 10, 100, 0, 0],
        ["green-2", "UP", 10, 100, 0, 0],
        ["blue-1", "UP", 90, 900, 0, 0],
      ]),
    );
    const good = parseStats(
      csv([
        ["green-1", "UP", 10, 200, 0, 0],
        ["green-2", "UP", 10, 199, 1, 0],
        ["blue-1", "UP", 90, 1800, 50, 0],
      ]),
    );
    expect(gate(before, good, ["green-1", "green-2"], 0.01)).toMatchObject({
      ok: true,
      requests: 200,
      failed: 1,
      reason: "error rate 0.5% (1 of 200)",
    });
    // 5xx and failed exchanges (econ) both count; a failed exchange has no response, so it adds to the requests
    const bad = parseStats(
      csv([
        ["green-1", "UP", 10, 110, 90, 0],
        ["green-2", "UP", 10, 110, 80, 10],
        ["blue-1", "UP", 90, 1800, 0, 0],
      ]),
    );
    expect(gate(before, bad, ["green-1", "green-2"], 0.01)).toMatchObject({
      ok: false,
      requests: 200,
      failed: 180,
      reason: "error rate 90.0% (180 of 200) above 1.0%",
    });
    const down = parseStats(
      csv([
        ["green-1", "DOWN", 10, 100, 0, 0],
        ["green-2", "UP", 10, 100, 0, 0],
      ]),
    );
    expect(gate(before, down, ["green-1", "green-2"], 0.01)).toMatchObject({ ok: false, reason: "health: green-1 DOWN" });
  });

  it("durations and canary steps: errors name the setting and the fix", () => {
    expect(parseDuration("500ms", "X")).toBe(0.5);
    expect(parseDuration("2m", "X")).toBe(120);
    expect(() => parseDuration("soon", "SLIPWAY_GATE_WINDOW")).toThrow(
      'SLIPWAY_GATE_WINDOW="soon" is not a duration: write e.g. 5s, 500ms or 2m',
    );
    expect(parseSteps("10, 50,100", "X")).toEqual([10, 50, 100]);
    expect(() => parseSteps("50,10", "SLIPWAY_CANARY_STEPS")).toThrow("rising percentages ending at 100");
    expect(() => parseSteps("10,50", "SLIPWAY_CANARY_STEPS")).toThrow("ending at 100");
  });

  it("kustomization: the image override set by digest, other entries and comments kept", () => {
    const text =
      "# overlay\nresources:\n  - ../base # the base\nimages:\n  - name: other\n    newTag: '1'\n  - name: node-api\n    newTag: old\n";
    const out = setKustomizeImage(text, "node-api", "127.0.0.1:5000/node-api", "sha256:abc");
    expect(out).toContain("# overlay");
    expect(out).toContain("../base # the base");
    expect(out).toMatch(/- name: other\n\s+newTag: "?'?1/);
    expect(out).toMatch(/- name: node-api\n\s+newName: 127\.0\.0\.1:5000\/node-api\n\s+digest: sha256:abc/);
    expect(out).not.toContain("newTag: old");
    expect(setKustomizeImage("resources: []\n", "node-api", "r/a", "sha256:1")).toContain("images:\n  - name: node-api");
    expect(() => setKustomizeImage("images: [\n", "a", "b", "c")).toThrow("kustomization.yaml does not parse");
  });
});

describe("the saved server state", () => {
  const saved = [
    "1",
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change",
    "3 app 1 blue-1 127.0.0.1 2 0 0 0 53",
    "3 app 2 blue-2 127.0.0.1 2 0 0 0 53",
    "3 app 3 green-1 127.0.0.1 2 0 100 0 1",
    "3 app 4 green-2 127.0.0.1 2 0 90 0 1",
    "4 stats 1 other 127.0.0.1 2 0 100 0 1",
    "",
  ].join("\n");

  it("reads each server's weight in the backend by the header's column names", () => {
    expect([...parseServerState(saved)]).toEqual([
      ["blue-1", 0],
      ["blue-2", 0],
      ["green-1", 100],
      ["green-2", 90],
    ]);
  });

  it("reads nothing from an empty or headerless file (the caller then asks the proxy)", () => {
    expect(parseServerState("").size).toBe(0);
    expect(parseServerState("1\n3 app 1 blue-1 127.0.0.1 2 0 100 0 1\n").size).toBe(0);
  });

  it("keys the proxy's configuration on the settings that shape it", () => {
    expect(proxyConfigKey(settings)).toMatch(/^[0-9a-f]{16}$/);
    expect(proxyConfigKey({ ...settings, image: "r/b@sha256:1", strategy: "rolling" })).toBe(proxyConfigKey(settings));
    expect(proxyConfigKey({ ...settings, listen: "127.0.0.1:18090" })).not.toBe(proxyConfigKey(settings));
  });
});
