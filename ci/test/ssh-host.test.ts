/**
 * Deploys over SSH to a second host on this machine (`slipway targets up ssh-host`: sshd and dockerd in a container
 * of their own at 172.31.250.10, reached only over SSH), with the example's `.env.remote`: each strategy under
 * load, a broken version rolled back by its gate, `slipway rollback`, and a host whose key does not match the
 * environment's known_hosts refused before anything runs.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI, copyExample, EXAMPLE, exampleVersions, releaseImage, run, slipway, tempDir } from "./helpers.ts";
import { startLoad } from "./load.ts";
import { commitOf } from "../cli/git.ts";
import { normalSource } from "../../modules/sign/src/policy.ts";
import { knownHostsLine, SSH_HOST, SSH_HOST_FILES, sshHostDir, sshToHost } from "../platform/ssh-host.ts";

process.env.SLIPWAY_SSH_TEST_PASSWORD = "slipway-ssh-test-password";
process.env.SLIPWAY_TRUST_DIR = tempDir("trust");
const URL = `http://${SSH_HOST.ip}:18090`;
const images = { v1: "", v2: "", broken: "", slow: "" };
let keys = "";
/** The example with .env.remote.local setting what a case needs (later files win). */
const source = copyExample();

const remote = (line: string) => writeFileSync(join(source, ".env.remote.local"), `${line}\n`);

const deploy = (image: string, reports = tempDir("reports")) =>
  slipway(
    "deploy",
    "--env",
    "remote",
    "--source",
    source,
    "--image",
    image,
    "--public-key",
    join(keys, "cosign.pub"),
    "--reports",
    reports,
  );

/** What runs on the SSH host, read over SSH: container name -> its state and image label. */
async function onHost(app = "node-api"): Promise<Record<string, string>> {
  const r = await sshToHost(["docker", "ps", "-a", "--format", '{{.Names}} {{.State}} {{.Label "slipway.image"}}']);
  expect(r.exitCode, r.stderr).toBe(0);
  return Object.fromEntries(
    r.stdout
      .trim()
      .split("\n")
      .filter((l) => l.startsWith(`${app}-`))
      .map((l) => {
        const [name, state, image] = l.split(" ");
        return [name, `${state} ${image ?? ""}`.trim()];
      }),
  );
}
const liveImages = async (app = "node-api") => [
  ...new Set(
    Object.entries(await onHost(app)).flatMap(([n, v]) =>
      /-(blue|green)-\d+$/.test(n) && v.startsWith("running ") ? [v.split(" ")[1]] : [],
    ),
  ),
];

async function underLoad<T extends { out: string }>(action: () => Promise<T>, url = URL) {
  const load = startLoad(`${url}/notes`, 4);
  const result = await action();
  // the gates' lines, for the record
  for (const line of result.out.split("\n").filter((l) => /^deploy remote: (\d+% on|passed|failed)/.test(l)))
    process.stderr.write(`${line}\n`);
  const report = await load.stop();
  process.stderr.write(`load on ${url}: ${report.sent} requests sent, ${report.failed} failed ${JSON.stringify(report.statuses)}\n`);
  return { result, load: report };
}

beforeAll(async () => {
  const up = await slipway("targets", "up", "ssh-host");
  expect(up.code, up.out).toBe(0);
  // a clean host: the app's containers and volumes from an earlier run removed over SSH
  await sshToHost([
    "sh",
    "-c",
    "for a in node-api metrics-api; do docker ps -aq --filter label=slipway.app=$a | xargs -r docker rm -f; docker volume rm -f $a-proxy; done; docker image prune -af >/dev/null",
  ]);
  keys = tempDir("keys");
  expect((await slipway("keys", "--out", keys, "--password-env", "SLIPWAY_SSH_TEST_PASSWORD")).code).toBe(0);
  const { v2, broken, slow } = exampleVersions();
  const release = (dir: string, ...extra: string[]) => releaseImage(dir, keys, "SLIPWAY_SSH_TEST_PASSWORD", ...extra);
  images.v1 = await release(EXAMPLE);
  images.v2 = await release(v2, "--allow-no-commit", "--repository", "127.0.0.1:5000/node-api");
  images.broken = await release(broken, "--allow-no-commit", "--repository", "127.0.0.1:5000/node-api");
  images.slow = await release(slow, "--allow-no-commit", "--repository", "127.0.0.1:5000/node-api");
  const sources = [normalSource((await commitOf(EXAMPLE))!.source), `file://${v2}`, `file://${broken}`, `file://${slow}`];
  const t = await run(process.execPath, [
    CLI,
    "trust",
    "add",
    "--env",
    "remote",
    "--public-key",
    join(keys, "cosign.pub"),
    ...sources.flatMap((s) => ["--source", s]),
  ]);
  expect(t.code, t.out).toBe(0);
}, 1_200_000);

describe("a Docker host over SSH", () => {
  it("rolling, blue-green and canary under load, each with 0 failed requests; the app runs on the SSH host", async () => {
    remote("SLIPWAY_STRATEGY=rolling\nSLIPWAY_GATE_WINDOW=4s");
    const first = await deploy(images.v1);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toMatch(/^deploy remote: connecting to ssh:\/\/deploy@172\.31\.250\.10 over SSH$/m);
    expect(await liveImages()).toEqual([images.v1]);

    const plan: [string, string, RegExp][] = [
      ["rolling", images.v2, /^deploy remote: passed, .*\(rolling, 2 gated step\(s\), 0 failed request\(s\)\)$/m],
      ["blue-green", images.v1, /^deploy remote: passed, .*\(blue-green, 1 gated step\(s\), 0 failed request\(s\)\)$/m],
      ["canary", images.v2, /^deploy remote: passed, .*\(canary, 3 gated step\(s\), 0 failed request\(s\)\)$/m],
    ];
    for (const [strategy, image, line] of plan) {
      remote(`SLIPWAY_STRATEGY=${strategy}\nSLIPWAY_GATE_WINDOW=4s`);
      const { result, load } = await underLoad(() => deploy(image));
      expect(result.code, result.out).toBe(0);
      expect(result.out).toMatch(line);
      expect(load.sent).toBeGreaterThan(100);
      expect(load.failed, `${strategy}: ${load.samples.join("; ")}`).toBe(0);
      expect(await liveImages()).toEqual([image]);
    }
    // the Docker API is not reachable from here other than over SSH: the host's dockerd has no TCP listener
    const listeners = await sshToHost(["cat", "/proc/net/tcp", "/proc/net/tcp6"]);
    const ports = listeners.stdout
      .split("\n")
      .filter((l) => / 0A /.test(l))
      .map((l) => parseInt(l.trim().split(/\s+/)[1].split(":")[1], 16));
    expect(ports).not.toContain(2375);
    expect(ports).not.toContain(2376);
    // smoke against the SSH host's URL, from here, like any environment's
    const smoke = await slipway("smoke", "--env", "remote", "--source", source, "--reports", tempDir("reports"));
    expect(smoke.code, smoke.out).toBe(0);
    expect(smoke.out).toMatch(/^smoke: passed, 3 check\(s\) against http:\/\/172\.31\.250\.10:18090$/m);
  }, 900_000);

  it("a version that answers 500 is rolled back at its first gate; the report counts the failed requests; rollback restores the last good digest", async () => {
    remote("SLIPWAY_STRATEGY=canary\nSLIPWAY_GATE_WINDOW=4s");
    const before = await liveImages();
    const attempt = await underLoad(() => deploy(images.broken));
    expect(attempt.result.code, attempt.result.out).toBe(1);
    const m =
      /^deploy remote: failed and rolled back, error rate 100\.0% \((\d+) of \d+\) above 1\.0%; (\d+) failed request\(s\) during the attempt; the previous version serves$/m.exec(
        attempt.result.out,
      );
    expect(m, attempt.result.out).not.toBeNull();
    // the canary's tenth of the traffic for one window: the client's failures are its 500s, and the report counts them
    expect(attempt.load.failed).toBeGreaterThan(0);
    expect(attempt.load.failed).toBeLessThan(attempt.load.sent / 5);
    expect(Object.keys(attempt.load.statuses).sort()).toEqual(["200", "500"]);
    expect(Number(m![2])).toBeGreaterThan(0);
    expect(await liveImages()).toEqual(before);

    const { result, load } = await underLoad(() =>
      slipway("rollback", "--env", "remote", "--source", source, "--reports", tempDir("reports")),
    );
    expect(result.code, result.out).toBe(0);
    expect(result.out).toMatch(/^deploy remote: passed, /m);
    expect(load.failed, load.samples.join("; ")).toBe(0);
    expect(await liveImages()).toEqual([images.v1]);
  }, 600_000);

  it("a host whose key does not match the environment's known_hosts is refused in one line; nothing on it changes", async () => {
    // the host as it would present itself after a rebuild, or as another machine would: another ed25519 key
    const other = join(sshHostDir, "test-other-host-key");
    const { $ } = await import("zx");
    await $({ quiet: true })`rm -f ${other} ${other}.pub && ssh-keygen -q -t ed25519 -N ${""} -f ${other}`;
    writeFileSync(join(sshHostDir, "test-known_hosts-changed"), knownHostsLine(readFileSync(`${other}.pub`, "utf8")));
    remote(`SLIPWAY_STRATEGY=blue-green\nSLIPWAY_SSH_KNOWN_HOSTS=file:${join(sshHostDir, "test-known_hosts-changed")}`);
    const before = await onHost();
    const r = await deploy(images.v2);
    expect(r.code, r.out).not.toBe(0);
    const lines = r.out.split("\n").filter((l) => l.startsWith("deploy remote: refused"));
    expect(lines).toEqual([
      `deploy remote: refused, the SSH host key of ${SSH_HOST.ip} does not match the environment's known hosts (SLIPWAY_SSH_KNOWN_HOSTS): if the host was rebuilt, check its new key and replace its line there; nothing was changed on it`,
    ]);
    expect(await onHost()).toEqual(before);
    expect(readFileSync(SSH_HOST_FILES.knownHosts, "utf8")).not.toContain(readFileSync(`${other}.pub`, "utf8").split(" ")[1]);
  }, 300_000);
});

describe("metric gates from Prometheus, on the SSH host", () => {
  // a second app beside node-api, whose environment gates on PromQL (SLIPWAY_GATE_METRICS=prometheus)
  const METRICS_URL = `http://${SSH_HOST.ip}:18091`;
  const gated = () =>
    remote(
      `SLIPWAY_APP=metrics-api\nSLIPWAY_URL=${METRICS_URL}\nSLIPWAY_APP_PORT=19400\nSLIPWAY_STRATEGY=canary\nSLIPWAY_GATE_WINDOW=5s\nSLIPWAY_GATE_METRICS=prometheus\nSLIPWAY_GATE_MAX_P99=150ms`,
    );
  const load = <T extends { out: string }>(action: () => Promise<T>) => underLoad(action, METRICS_URL);

  it("a canary gated by PromQL (error ratio, p99) under load: 0 failed requests; Prometheus scrapes the proxy and the app", async () => {
    gated();
    // nothing serves yet, so no load: the first deploy's gate has no data, which a first deploy keeps
    const first = await deploy(images.v1);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toMatch(/^deploy remote: starting Prometheus on 127\.0\.0\.1:19591 \(the gates' metrics\)$/m);
    expect(first.out).toMatch(/^deploy remote: 100% on the new version for 5s: healthy, inconclusive: .*; first deploy, kept$/m);
    const { result, load: report } = await load(() => deploy(images.v2));
    expect(result.code, result.out).toBe(0);
    for (const share of [10, 50, 100])
      expect(result.out).toMatch(
        new RegExp(`^deploy remote: ${share}% on the new version for 5s: healthy, error ratio 0\\.0%, p99 \\d+ ms \\(PromQL\\)$`, "m"),
      );
    expect(report.failed, report.samples.join("; ")).toBe(0);
    expect(await liveImages("metrics-api")).toEqual([images.v2]);
    // what it scraped: the proxy's exporter and each replica's /metrics
    const targets = await sshToHost(["docker", "exec", "metrics-api-prometheus", "curl", "-s", "http://127.0.0.1:19591/api/v1/targets"]);
    const active = (JSON.parse(targets.stdout) as { data: { activeTargets: { labels: Record<string, string>; health: string }[] } }).data
      .activeTargets;
    expect(active.filter((t) => t.labels.job === "proxy").map((t) => t.health)).toEqual(["up"]);
    expect(active.filter((t) => t.health === "up" && t.labels.job === "app")).toHaveLength(2);
  }, 600_000);

  it("a version that answers 500 is rolled back at its first gate, failing the counters and the PromQL error ratio alike; the report counts the failed requests", async () => {
    gated();
    const reports = tempDir("reports");
    const { result, load: report } = await load(() => deploy(images.broken, reports));
    expect(result.code, result.out).toBe(1);
    const m =
      /^deploy remote: failed and rolled back, error rate 100\.0% \(\d+ of \d+\) above 1\.0%; error ratio 100\.0% above 1\.0% \(PromQL\); (\d+) failed request\(s\) during the attempt; the previous version serves$/m.exec(
        result.out,
      );
    expect(m, result.out).not.toBeNull();
    const deployReport = JSON.parse(readFileSync(join(reports, "deploy/deploy.json"), "utf8"));
    expect(deployReport.steps.map((s: { traffic: number }) => s.traffic)).toEqual([10]);
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(deployReport.failedRequests).toBe(Number(m![1]));
    expect(report.failed).toBeGreaterThan(0);
    expect(await liveImages("metrics-api")).toEqual([images.v2]);
  }, 600_000);

  it("a slow version is stopped by the p99-latency gate; a step with no data is inconclusive, not passed", async () => {
    gated();
    const slow = await load(() => deploy(images.slow));
    expect(slow.result.code, slow.result.out).toBe(1);
    expect(slow.result.out).toMatch(
      /^deploy remote: failed and rolled back, p99 latency \d+ ms above 150 ms \(PromQL\); \d+ failed request\(s\) during the attempt; the previous version serves$/m,
    );
    expect(await liveImages("metrics-api")).toEqual([images.v2]);
    // no traffic during the window: nothing to judge the new version by
    const idle = await deploy(images.v1);
    expect(idle.code, idle.out).toBe(1);
    expect(idle.out).toMatch(
      /^deploy remote: failed and rolled back, inconclusive: the error-ratio query has no data \(no requests reached the new version, or nothing scraped them\); 0 failed request\(s\) during the attempt; the previous version serves$/m,
    );
    expect(await liveImages("metrics-api")).toEqual([images.v2]);
  }, 600_000);

  it("turning the gates off removes the app's Prometheus; the proxy's counters gate the deploy", async () => {
    remote(`SLIPWAY_APP=metrics-api\nSLIPWAY_URL=${METRICS_URL}\nSLIPWAY_APP_PORT=19400\nSLIPWAY_STRATEGY=canary\nSLIPWAY_GATE_WINDOW=5s`);
    // the proxy loses its exporter: as with any change of its settings, it is replaced in a maintenance window
    const refused = await deploy(images.v1);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(
      /the proxy metrics-api-proxy on remote runs with other settings .*: remove it \(docker rm -f metrics-api-proxy\)/,
    );
    expect((await sshToHost(["docker", "rm", "-f", "metrics-api-proxy"])).exitCode).toBe(0);
    const result = await deploy(images.v1);
    expect(result.code, result.out).toBe(0);
    expect(result.out).toMatch(/^deploy remote: removing metrics-api-prometheus: the metric gates are off$/m);
    expect(result.out).not.toMatch(/PromQL/);
    expect(await liveImages("metrics-api")).toEqual([images.v1]);
    const left = await sshToHost(["docker", "ps", "-aq", "--filter", "name=^metrics-api-prometheus$"]);
    expect(left.exitCode, left.stderr).toBe(0);
    expect(left.stdout.trim()).toBe("");
  }, 600_000);
});
