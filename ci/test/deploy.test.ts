/**
 * Deploy and smoke on the real engine and the local targets (a Docker engine and PostgreSQL per environment,
 * HAProxy in front), through the CLI as a user runs it: staging by blue-green, production by canary, both under
 * constant load from a loopback generator; a broken version rolled back automatically; rollback; the targets
 * restarted with no redeploy; the Docker APIs and the proxies' runtime APIs closed to an unprivileged user and to
 * a staging replica; no secret in `docker inspect`; an unsigned image refused; the GitOps target against a local
 * bare repository served by git daemon.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { $ } from "zx";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { CLI, copyWith, EXAMPLE, exampleVersions, releaseImage, ROOT, run, slipway, tempDir } from "./helpers.ts";
import { commitOf } from "../cli/git.ts";
import { normalSource } from "../../modules/sign/src/policy.ts";
import { startLoad } from "./load.ts";
import { connect } from "node:net";
import { parseStats } from "../../modules/deploy/src/plan.ts";

const PASSWORD = "slipway-deploy-test-password";
process.env.SLIPWAY_DEPLOY_TEST_PASSWORD = PASSWORD;
// this file's own trust policies (the strategies' tests trust the test key and require nothing more of production);
// the policy cases below use a second directory with the defaults
process.env.SLIPWAY_TRUST_DIR = tempDir("trust");
const TARGETS = "/var/cache/slipway/targets";
const STAGING = { docker: `${TARGETS}/staging/docker.sock`, url: "http://127.0.0.1:18081", env: "staging" };
const PRODUCTION = { docker: `${TARGETS}/production/docker.sock`, url: "http://127.0.0.1:18082", env: "production" };
type Target = typeof STAGING;

let keys: string;
const images: Record<"v1" | "v2" | "broken", string> = { v1: "", v2: "", broken: "" };

/** A call to a target's Docker API on its unix socket (the only place it listens); the parsed JSON answer. */
function dockerApi<T = unknown>(target: Target, path: string, method = "GET"): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: target.docker, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        if ((res.statusCode ?? 500) >= 400) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
        else resolve((text ? JSON.parse(text) : undefined) as T);
      });
    });
    req.on("error", reject);
    req.end();
  });
}
const appFilter = (label = "slipway.app=node-api") => `filters=${encodeURIComponent(JSON.stringify({ label: [label] }))}`;
const dockerCli = (target: Target) => $({ quiet: true, nothrow: true, env: { ...process.env, DOCKER_HOST: `unix://${target.docker}` } });

/** What runs on a target: container name -> the image it was deployed from (its slipway.image label). */
async function live(target: Target): Promise<Record<string, string>> {
  const list = await dockerApi<{ Names: string[]; Labels: Record<string, string> }[]>(target, `/containers/json?${appFilter()}`);
  return Object.fromEntries(list.map((c) => [c.Names[0].slice(1), c.Labels["slipway.image"] ?? "proxy"]));
}

const liveImages = async (target: Target) => [...new Set(Object.values(await live(target)).filter((v) => v !== "proxy"))];

/** The running replicas' container names. */
const replicas = async (target: Target) =>
  (
    await dockerApi<{ Names: string[] }[]>(
      target,
      `/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: ["slipway.app=node-api", "slipway.slot"] }))}`,
    )
  ).map((c) => c.Names[0].slice(1));

async function reset(target: Target): Promise<void> {
  for (const c of await dockerApi<{ Id: string }[]>(target, `/containers/json?all=1&${appFilter()}`))
    await dockerApi(target, `/containers/${c.Id}?force=1`, "DELETE");
}

/** The HAProxy runtime API socket of a target's proxy, as the host sees it (inside the proxy's volume). */
async function adminSocket(target: Target): Promise<string> {
  return `${(await dockerApi<{ Mountpoint: string }>(target, "/volumes/node-api-proxy")).Mountpoint}/admin.sock`;
}

/**
 * A node script that tries each unix socket path and loopback TCP port, printing {target: "CONNECTED" or the
 * error code} as JSON; run as another user or inside a container.
 */
const PROBE = `const net = require("net");
const all = JSON.parse(process.argv[1]);
Promise.all(all.map((t) => new Promise((done) => {
  const s = typeof t === "number" ? net.connect(t, "127.0.0.1") : net.connect(t);
  s.setTimeout(3000, () => { s.destroy(); done([t, "TIMEOUT"]); });
  s.on("connect", () => { s.destroy(); done([t, "CONNECTED"]); });
  s.on("error", (e) => done([t, e.code]));
}))).then((r) => console.log(JSON.stringify(Object.fromEntries(r))));`;

const release = (source: string, ...extra: string[]) => releaseImage(source, keys, "SLIPWAY_DEPLOY_TEST_PASSWORD", ...extra);

/** `slipway deploy` of image to env from the example, verified with keyDir's cosign.pub. */
const deployArgs = (env: string, image: string, keyDir = keys) => [
  "deploy",
  "--env",
  env,
  "--source",
  EXAMPLE,
  "--image",
  image,
  "--public-key",
  join(keyDir, "cosign.pub"),
  "--reports",
  tempDir("reports"),
];

const deploy = (env: string, image: string, ...extra: string[]) => slipway(...deployArgs(env, image), ...extra);

/** Runs `action` under constant load on url; returns its result and the load report. */
async function underLoad<T>(url: string, action: () => Promise<T>) {
  const load = startLoad(`${url}/notes`, 4);
  const result = await action();
  const report = await load.stop();
  process.stderr.write(`load on ${url}: ${report.sent} requests sent, ${report.failed} failed ${JSON.stringify(report.statuses)}\n`);
  return { result, load: report };
}

beforeAll(async () => {
  const up = await slipway("targets", "up");
  expect(up.code, up.out).toBe(0);
  await Promise.all([reset(STAGING), reset(PRODUCTION)]);
  keys = tempDir("keys");
  expect((await slipway("keys", "--out", keys, "--password-env", "SLIPWAY_DEPLOY_TEST_PASSWORD")).code).toBe(0);
  // three signed versions: the example, a changed copy, and a copy whose /notes answers 500 (health stays fine)
  const { v2, broken } = exampleVersions();
  images.v1 = await release(EXAMPLE);
  images.v2 = await release(v2, "--allow-no-commit", "--repository", "127.0.0.1:5000/node-api");
  images.broken = await release(broken, "--allow-no-commit", "--repository", "127.0.0.1:5000/node-api");
  // the environments trust the test key for those three sources (the example's repository, the two copies)
  sources = [normalSource((await commitOf(EXAMPLE))!.source), `file://${v2}`, `file://${broken}`];
  for (const env of ["staging", "production", "gitops"]) await trust(process.env.SLIPWAY_TRUST_DIR!, env, keys, sources);
  expect((await slipway("trust", "require", "--env", "production")).code).toBe(0);
});

let sources: string[] = [];

/** `slipway trust add` of keys/cosign.pub in env for sources, in the trust directory dir. */
async function trust(dir: string, env: string, keyDir: string, from: string[]): Promise<void> {
  const r = await run(
    process.execPath,
    [CLI, "trust", "add", "--env", env, "--public-key", join(keyDir, "cosign.pub"), ...from.flatMap((s) => ["--source", s])],
    {
      env: { ...process.env, SLIPWAY_TRUST_DIR: dir },
    },
  );
  expect(r.code, r.out).toBe(0);
}

describe("deploy and smoke", () => {
  it("staging by blue-green, smoke, production by canary, smoke: 0 failed requests under load during switch and rollout", async () => {
    for (const env of ["staging", "production"]) {
      const first = await deploy(env, images.v1);
      expect(first.code, first.out).toBe(0);
      expect(first.out).toMatch(new RegExp(`^deploy ${env}: passed, .* live in the blue slot`, "m"));
    }
    const staging = await underLoad(STAGING.url, () => deploy("staging", images.v2));
    expect(staging.result.code, staging.result.out).toBe(0);
    expect(staging.result.out).toMatch(
      /^deploy staging: passed, \S+ live in the green slot \(blue-green, 1 gated step\(s\), 0 failed request\(s\)\)$/m,
    );
    expect(staging.load.sent).toBeGreaterThan(100);
    expect(staging.load.failed, staging.load.samples.join("; ")).toBe(0);
    expect(await liveImages(STAGING)).toEqual([images.v2]);

    const smokeStaging = await slipway("smoke", "--env", "staging", "--source", EXAMPLE, "--reports", tempDir("reports"));
    expect(smokeStaging.code, smokeStaging.out).toBe(0);
    expect(smokeStaging.out).toMatch(/^smoke: passed, 3 check\(s\) against http:\/\/127\.0\.0\.1:18081$/m);

    const production = await underLoad(PRODUCTION.url, () => deploy("production", images.v2));
    expect(production.result.code, production.result.out).toBe(0);
    for (const share of [10, 50, 100])
      expect(production.result.out).toMatch(new RegExp(`^deploy production: ${share}% on the new version for 5s: healthy`, "m"));
    expect(production.load.failed, production.load.samples.join("; ")).toBe(0);
    expect(await liveImages(PRODUCTION)).toEqual([images.v2]);

    const reports = tempDir("reports");
    const smoke = await slipway("smoke", "--env", "production", "--source", EXAMPLE, "--reports", reports);
    expect(smoke.code, smoke.out).toBe(0);
    const junit = readFileSync(join(reports, "smoke/junit.xml"), "utf8");
    expect(junit).toMatch(/<testsuite name="http:\/\/127\.0\.0\.1:18082" tests="3" failures="0"/);
  });

  it("a broken version is rolled back automatically while the previous one keeps serving; the report counts the failed requests", async () => {
    const reports = tempDir("reports");
    const { result, load } = await underLoad(PRODUCTION.url, () => deploy("production", images.broken, "--reports", reports));
    expect(result.code).toBe(1);
    const m =
      /^deploy production: failed and rolled back, error rate 100\.0% \((\d+) of \d+\) above 1\.0%; (\d+) failed request\(s\) during the attempt; the previous version serves$/m.exec(
        result.out,
      );
    expect(m, result.out).not.toBeNull();
    const report = JSON.parse(readFileSync(join(reports, "deploy/deploy.json"), "utf8"));
    expect(report.outcome).toBe("rolled back");
    expect(report.steps[0].traffic).toBe(10);
    expect(report.failedRequests).toBe(Number(m![2]));
    // the canary took about a tenth of the traffic for one window; all the client's failures are its 500s
    expect(load.failed).toBeGreaterThan(0);
    expect(load.failed).toBeLessThan(load.sent / 5);
    expect(Object.keys(load.statuses).sort()).toEqual(["200", "500"]);
    expect(await liveImages(PRODUCTION)).toEqual([images.v2]);
    expect((await fetch(`${PRODUCTION.url}/notes`)).status).toBe(200);
  });

  it("rollback restores the last good digest", async () => {
    const r = await slipway("rollback", "--env", "production", "--source", EXAMPLE, "--reports", tempDir("reports"));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^deploy production: passed, \S+ live in the (blue|green) slot \(rollback/m);
    expect(await liveImages(PRODUCTION)).toEqual([images.v1]);
  });

  it("deployed, then the targets restarted (`targets down && targets up`): both URLs answer 200 with no redeploy", async () => {
    const before = [await liveImages(STAGING), await liveImages(PRODUCTION)];
    const down = await slipway("targets", "down");
    expect(down.code, down.out).toBe(0);
    await expect(fetch(`${STAGING.url}/notes`)).rejects.toThrow();
    const up = await slipway("targets", "up");
    expect(up.code, up.out).toBe(0);
    const t0 = Date.now();
    for (const target of [STAGING, PRODUCTION]) {
      let status = 0;
      while (Date.now() - t0 < 60_000) {
        status = await fetch(`${target.url}/notes`).then(
          (r) => r.status,
          () => 0,
        );
        if (status === 200) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(status, `${target.url}/notes after the restart`).toBe(200);
    }
    process.stderr.write(`both URLs answered 200 ${((Date.now() - t0) / 1000).toFixed(1)}s after targets up\n`);
    expect([await liveImages(STAGING), await liveImages(PRODUCTION)]).toEqual(before);
  });

  it("redeploying the live digest changes nothing; with its proxy stopped, the deploy starts the proxy again first", async () => {
    const ids = async () => (await dockerApi<{ Id: string }[]>(STAGING, `/containers/json?all=1&${appFilter()}`)).map((c) => c.Id).sort();
    const before = await ids();
    const again = await deploy("staging", images.v2);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toMatch(/^deploy staging: unchanged, \S+ is already live \((blue|green)\) \(blue-green, 0 gated step\(s\)/m);
    expect(await ids()).toEqual(before);
    // what the target records is not taken on trust when the proxy is down: the controller starts it, then finds the digest live
    await dockerApi(STAGING, "/containers/node-api-proxy/stop", "POST");
    const restarted = await deploy("staging", images.v2);
    expect(restarted.code, restarted.out).toBe(0);
    expect(restarted.out).toMatch(/^deploy staging: starting the stopped proxy$/m);
    expect(restarted.out).toMatch(/^deploy staging: unchanged, \S+ is already live/m);
    expect((await fetch(`${STAGING.url}/notes`)).status).toBe(200);
    expect(await liveImages(STAGING)).toEqual([images.v2]);
  });

  it("the targets' Docker APIs and the proxies' runtime APIs refuse an unprivileged user and a staging replica; no TCP port answers", async () => {
    const sockets = [STAGING.docker, PRODUCTION.docker, await adminSocket(STAGING), await adminSocket(PRODUCTION)];
    for (const s of sockets) expect(statSync(s).isSocket(), s).toBe(true);
    const probe = async (run: (script: string, arg: string) => Promise<{ stdout: string }>, what: unknown[]) =>
      JSON.parse((await run(PROBE, JSON.stringify(what))).stdout) as Record<string, string>;
    // root reaches them (the probe works) ...
    const asRoot = await probe((p, a) => $({ quiet: true })`node -e ${p} ${a}`, sockets);
    expect(Object.values(asRoot)).toEqual(sockets.map(() => "CONNECTED"));
    // ... an unprivileged user does not
    const asNobody = await probe((p, a) => $({ quiet: true })`runuser -u nobody -- node -e ${p} ${a}`, sockets);
    expect(asNobody).toEqual(Object.fromEntries(sockets.map((s) => [s, "EACCES"])));
    const docker = await $({ quiet: true, nothrow: true })`runuser -u nobody -- docker -H unix://${PRODUCTION.docker} ps`;
    expect(docker.exitCode).not.toBe(0);
    expect(docker.stderr).toMatch(/permission denied/);
    // no Docker API and no runtime API on TCP, from the host ...
    const ports = [2375, 2376, 2381, 2382, 18181, 18182];
    for (const port of ports) await expect(fetch(`http://127.0.0.1:${port}/_ping`), `port ${port}`).rejects.toThrow();
    // ... nor from inside a running staging replica (it shares the host's network)
    const [replica] = await replicas(STAGING);
    expect(replica).toMatch(/^node-api-(blue|green)-\d$/);
    const paths = [...sockets, "/var/run/docker.sock", "/run/docker.sock", "/run/haproxy/admin.sock"];
    const inside = await probe((p, a) => dockerCli(STAGING)`docker exec ${replica} node -e ${p} ${a}`, [...paths, ...ports]);
    expect(Object.keys(inside)).toHaveLength(paths.length + ports.length);
    for (const [what, result] of Object.entries(inside))
      expect(["ENOENT", "EACCES", "ECONNREFUSED"], `${what}: ${result}`).toContain(result);
  });

  it("docker inspect of a replica shows no secret value: each secret is a file /run/secrets/<NAME>, mode 0400", async () => {
    for (const target of [STAGING, PRODUCTION]) {
      const secret = readFileSync(`${TARGETS}/${target.env}/database-url`, "utf8").trim();
      const names = await replicas(target);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) {
        const inspect = await dockerCli(target)`docker inspect ${name}`;
        expect(inspect.exitCode, inspect.stderr).toBe(0);
        expect(inspect.stdout).not.toContain(secret);
        expect(inspect.stdout).not.toContain(secret.split("@")[0].split(":").pop()); // the password alone
        const env = (JSON.parse(inspect.stdout) as { Config: { Env: string[] } }[])[0].Config.Env;
        expect(env).toContain("DATABASE_URL_FILE=/run/secrets/DATABASE_URL");
        expect(env.filter((e) => e.startsWith("DATABASE_URL="))).toEqual([]);
        const file = await dockerCli(target)`docker exec ${name} stat -c %a:%U /run/secrets/DATABASE_URL`;
        expect(file.stdout.trim(), `${name}: ${file.stderr}`).toBe("400:node");
      }
      expect((await fetch(`${target.url}/notes`)).status).toBe(200); // and the app reads it: /notes queries the database
    }
  });

  it("an unsigned image is refused with a clear message, and nothing changes on the target", async () => {
    const unsigned = copyWith("src/notes.ts", (t) => `${t}\nexport const unsigned = true;\n`);
    const pushed = await slipway("publish", "--source", unsigned, "--repository", "127.0.0.1:5000/node-api", "--allow-no-commit");
    const ref = /^publish: (\S+@sha256:[0-9a-f]{64})/m.exec(pushed.out)![1];
    const before = await live(STAGING);
    const r = await deploy("staging", ref);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^deploy staging: refused, no valid signature for \S+ with this key: .*; sign it with `slipway release`; nothing changed on staging$/m,
    );
    expect(await live(STAGING)).toEqual(before);
    expect(await liveImages(STAGING)).toEqual([images.v2]);
  });

  it("an image signed with its scan skipped is refused as unscanned, and nothing changes on the target", async () => {
    // the same content every run (its build cached on a warm engine); the key is this run's, so it is signed afresh
    const unscanned = copyWith("src/notes.ts", (t) => `${t}\nexport const unscanned = true;\n`);
    const signed = await slipway(
      "pipeline",
      "--source",
      unscanned,
      "--only",
      "build,sbom,sign",
      "--allow-no-commit",
      "--reports",
      tempDir("reports"),
      "--key",
      join(keys, "cosign.key"),
      "--password-env",
      "SLIPWAY_DEPLOY_TEST_PASSWORD",
    );
    expect(signed.code, signed.out).toBe(0);
    // no scan attested, and the gates attestation says no gate ran
    expect(signed.out).toMatch(
      /^ {2}sign\s+passed\s.*sign: signed \S+, SBOM attested, provenance attested; gates attested \(passed: none\)$/m,
    );
    const ref = /^ {2}build\s+passed\s.*build: (\S+@sha256:[0-9a-f]{64})$/m.exec(signed.out)![1];
    const before = await live(STAGING);
    const r = await deploy("staging", ref);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^deploy staging: refused, no valid vulnerability scan attestation \(was it scanned\?\) for \S+ with this key: .*; nothing changed on staging$/m,
    );
    expect(await live(STAGING)).toEqual(before);
    expect(await liveImages(STAGING)).toEqual([images.v2]);
  });
});

describe("trust per environment", () => {
  /** slipway with the strict policies: production as a new policy has it (gates test, scan, secrets; staging smoke). */
  let strict: string;
  const slipwayStrict = (...args: string[]) =>
    run(process.execPath, [CLI, ...args], { env: { ...process.env, SLIPWAY_TRUST_DIR: strict } });
  const deployStrict = (env: string, image: string, key = keys) => slipwayStrict(...deployArgs(env, image, key));

  beforeAll(async () => {
    strict = tempDir("trust-strict");
    for (const env of ["staging", "production"]) await trust(strict, env, keys, sources);
    const list = await slipwayStrict("trust", "list");
    expect(list.out).toContain("production: requires gates:test,scan,secrets smoke:staging");
    expect(list.out).toContain("staging: requires signature, SBOM, provenance and scan only");
  });

  it("an image signed by a fresh key, or by another project's key, is refused by staging and production; nothing changes", async () => {
    const fresh = tempDir("fresh-keys");
    expect((await slipway("keys", "--out", fresh, "--password-env", "SLIPWAY_DEPLOY_TEST_PASSWORD")).code).toBe(0);
    // the same content every run (its build cached on a warm engine); the fresh key is this run's own
    const copy = copyWith("src/notes.ts", (t) => `${t}\nexport const freshKey = true;\n`);
    const r = await slipway(
      "release",
      "--source",
      copy,
      "--key",
      join(fresh, "cosign.key"),
      "--password-env",
      "SLIPWAY_DEPLOY_TEST_PASSWORD",
      "--vuln-db",
      join(ROOT, "ci/test/fixtures/osv"),
      "--reports",
      tempDir("reports"),
      "--allow-no-commit",
      "--repository",
      "127.0.0.1:5000/node-api",
    );
    expect(r.code, r.out).toBe(0);
    const ref = /^publish: (\S+@sha256:[0-9a-f]{64})$/m.exec(r.out)![1];
    const before = { staging: await live(STAGING), production: await live(PRODUCTION) };
    for (const env of ["staging", "production"] as const) {
      // named: the key is not one the environment trusts, refused before anything starts
      const named = await deployStrict(env, ref, fresh);
      expect(named.code).toBe(1);
      expect(named.out.trim()).toMatch(
        new RegExp(`^slipway: the key sha256:[0-9a-f]{64} is not trusted by ${env}: an image signed with it cannot be deployed there`),
      );
      // not named: every trusted key is tried, none verifies the signature
      const tried = await slipwayStrict("deploy", "--env", env, "--source", EXAMPLE, "--image", ref, "--reports", tempDir("reports"));
      expect(tried.code).toBe(1);
      expect(tried.out).toMatch(
        new RegExp(`^deploy ${env}: refused, no valid signature for \\S+ with this key: .*; nothing changed on ${env}$`, "m"),
      );
    }
    // another project's key: trusted by staging, for that project's repository only
    await trust(strict, "staging", fresh, ["https://git.example.com/other/app"]);
    const other = await deployStrict("staging", ref, fresh);
    expect(other.code).toBe(1);
    expect(other.out).toMatch(
      new RegExp(
        `^deploy staging: refused, \\S+ does not meet the policy: it was built from file://${copy}, not from a source this environment accepts \\(https://git\\.example\\.com/other/app\\); .*nothing changed on staging$`,
        "m",
      ),
    );
    expect({ staging: await live(STAGING), production: await live(PRODUCTION) }).toEqual(before);
  });

  it("production refuses an image whose tests were skipped, and a digest that did not pass staging's smoke checks", async () => {
    const before = await live(PRODUCTION);
    // released: scanned and signed, its tests never ran (the gates attestation says so)
    const untested = await deployStrict("production", images.v1);
    expect(untested.code).toBe(1);
    expect(untested.out).toMatch(
      /^deploy production: refused, \S+ does not meet the policy: its gates attestation says test skipped; test must pass before it is signed; .*nothing changed on production$/m,
    );
    // tested, scanned and signed by the pipeline, never deployed to staging
    const src = copyWith("src/notes.ts", (t) => `${t}\nexport const gated = ${Date.now()};\n`);
    await $({ cwd: src, quiet: true })`git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm gated`;
    await trust(strict, "production", keys, [`file://${src}`]);
    const piped = await slipwayStrict(
      "pipeline",
      "--source",
      src,
      "--skip",
      "integration",
      "--until",
      "verify",
      "--reports",
      tempDir("reports"),
      "--key",
      join(keys, "cosign.key"),
      "--password-env",
      "SLIPWAY_DEPLOY_TEST_PASSWORD",
      "--vuln-db",
      join(ROOT, "ci/test/fixtures/osv"),
    );
    expect(piped.code, piped.out).toBe(0);
    expect(piped.out).toMatch(
      /sign: signed \S+, SBOM attested, provenance attested, scan attested; gates attested \(passed: lint, typecheck, test, scan, secrets\)/,
    );
    const ref = /^ {2}build\s+passed\s.*build: (\S+@sha256:[0-9a-f]{64})$/m.exec(piped.out)![1];
    const unsmoked = await deployStrict("production", ref);
    expect(unsmoked.code).toBe(1);
    expect(unsmoked.out).toMatch(
      /^deploy production: refused, \S+ does not meet the policy: this digest has not passed the smoke checks of staging \(no smoke attestation for staging\); .*nothing changed on production$/m,
    );
    expect(await live(PRODUCTION)).toEqual(before);
  });

  it("rollback re-verifies the previous version and refuses one that does not verify; nothing changes", async () => {
    // staging as the strict directory has it, now requiring what the previous version (a release: tests never ran) lacks
    expect((await slipwayStrict("trust", "require", "--env", "staging", "gates:test")).code).toBe(0);
    const before = await live(STAGING);
    const r = await slipwayStrict("rollback", "--env", "staging", "--source", EXAMPLE, "--reports", tempDir("reports"));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^rollback staging: refused, the previous version \S+ does not verify, \S+ does not meet the policy: its gates attestation says test skipped; test must pass before it is signed; deploy a verified image instead; nothing changed on staging$/m,
    );
    expect(await live(STAGING)).toEqual(before);
  });
});

describe("gitops target", () => {
  let daemon: ChildProcess;
  let base: string;
  const port = 19418;
  beforeAll(async () => {
    base = tempDir("gitops");
    const work = join(base, "work");
    mkdirSync(join(work, "overlays/staging"), { recursive: true });
    writeFileSync(
      join(work, "overlays/staging/kustomization.yaml"),
      "# staging overlay\nresources:\n  - ../../base\nimages:\n  - name: node-api\n    newTag: old\n",
    );
    const git = $({ cwd: work, quiet: true });
    await git`git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm init && git clone -q --bare . ${join(base, "manifests.git")}`;
    daemon = spawn(
      "git",
      [
        "daemon",
        "--reuseaddr",
        `--base-path=${base}`,
        "--export-all",
        "--enable=receive-pack",
        "--listen=127.0.0.1",
        `--port=${port}`,
        base,
      ],
      { stdio: "ignore" },
    );
    await new Promise((r) => setTimeout(r, 1000));
  });
  afterAll(() => daemon?.kill());

  it("commits the digest into the kustomization with a message naming the SHA, and pushes", async () => {
    const source = tempDir("gitops-src");
    writeFileSync(
      join(source, ".env.gitops"),
      `SLIPWAY_APP=node-api\nSLIPWAY_DEPLOY_TARGET=gitops\nSLIPWAY_GITOPS_REMOTE=git://127.0.0.1:${port}/manifests.git\nSLIPWAY_GITOPS_PATH=overlays/staging\n`,
    );
    await $({ cwd: source, quiet: true })`git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm app`;
    const sha = (await $({ cwd: source, quiet: true })`git rev-parse HEAD`).stdout.trim();
    const r = await slipway(
      "deploy",
      "--env",
      "gitops",
      "--source",
      source,
      "--image",
      images.v2,
      "--public-key",
      join(keys, "cosign.pub"),
    );
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(
      /^deploy gitops: committed [0-9a-f]{12} to git:\/\/127\.0\.0\.1:19418\/manifests\.git \(main\): node-api -> sha256:/m,
    );
    const bare = $({ cwd: join(base, "manifests.git"), quiet: true });
    expect((await bare`git log -1 --format=%s main`).stdout.trim()).toBe(`deploy node-api ${sha.slice(0, 12)} to gitops`);
    const kustomization = (await bare`git show main:overlays/staging/kustomization.yaml`).stdout;
    expect(kustomization).toContain("# staging overlay");
    expect(kustomization).toContain(`newName: ${images.v2.split("@")[0]}`);
    expect(kustomization).toContain(`digest: ${images.v2.split("@")[1]}`);
    expect(kustomization).not.toContain("newTag");
  });
});

describe("all-or-nothing deploys", () => {
  const LOCK = "/containers/node-api-deploy-lock/json";
  let v3 = "";

  /** HAProxy's weights on the target, server -> weight, read from its runtime API socket as root. */
  async function weights(target: Target): Promise<Record<string, number>> {
    const socket = await adminSocket(target);
    const csv = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = connect(socket, () => s.end("show stat\n"));
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("end", () => resolve(Buffer.concat(chunks).toString()));
      s.on("error", reject);
    });
    return Object.fromEntries([...parseStats(csv).values()].map((r) => [r.name, r.weight]));
  }

  /** The deploy CLI started in its own process group (as a terminal job is), its output collected. */
  function startDeploy(image: string) {
    const args = ["deploy", "--env", "production", "--source", EXAMPLE, "--image", image, "--public-key", join(keys, "cosign.pub")];
    const child = spawn(process.execPath, [CLI, ...args, "--reports", tempDir("reports")], { detached: true });
    let out = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) =>
      child.on("exit", (code, signal) => setTimeout(() => resolve({ code, signal, out }), 200)),
    );
    const stop = () => {
      try {
        process.kill(-child.pid!, "SIGKILL"); // a case that failed midway leaves no deploy running behind it
      } catch {
        // already gone
      }
    };
    return { child, done, output: () => out, stop };
  }

  /** Waits until the canary's first step is live: the green slot has some traffic, blue keeps the rest. */
  async function atFirstStep(target: Target, output: () => string): Promise<Record<string, number>> {
    const t0 = Date.now();
    while (Date.now() - t0 < 240_000) {
      const w = await weights(target).catch(() => ({}) as Record<string, number>);
      // both halves of the step set (the new slot's weight goes first, then the old one's)
      if ([w["green-1"], w["green-2"], w["blue-1"], w["blue-2"]].every((x) => (x ?? 0) > 0 && (x ?? 0) < 100)) return w;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the canary never reached its first step: ${output()}`);
  }

  const noLock = async (target: Target) =>
    dockerApi(target, LOCK).then(
      () => false,
      (e: Error) => /: 404 /.test(e.message),
    );
  const progressFile = async (target: Target) =>
    `${(await dockerApi<{ Mountpoint: string }>(target, "/volumes/node-api-proxy")).Mountpoint}/deploy-progress.json`;

  /** Each case starts from v1 live in the blue slot, no lock and nothing half done (deployed afresh otherwise). */
  async function v1InBlue(): Promise<void> {
    const blue = (await replicas(PRODUCTION)).sort().join(",") === "node-api-blue-1,node-api-blue-2";
    const progress = existsSync(await progressFile(PRODUCTION).catch(() => "/nonexistent"));
    if (blue && !progress && (await noLock(PRODUCTION)) && (await liveImages(PRODUCTION)).join() === images.v1) return;
    await reset(PRODUCTION);
    const first = await deploy("production", images.v1);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toMatch(/^deploy production: passed, \S+ live in the blue slot/m);
  }

  beforeAll(async () => {
    const copy = copyWith("src/notes.ts", (t) => `${t}\nexport const version = 3;\n`);
    v3 = await release(copy, "--allow-no-commit", "--repository", "127.0.0.1:5000/node-api");
    await trust(process.env.SLIPWAY_TRUST_DIR!, "production", keys, [...sources, `file://${copy}`]);
  });

  it.each([
    ["SIGINT", "its process group, as Ctrl-C in a terminal does", 130],
    ["SIGTERM", "the CLI alone, as a cancelled CI job's runner does", 143],
  ] as const)(
    "%s to %s at the 10% canary step: the traffic returns to 100% on the stable version, the CLI says so",
    async (sig, _to, exit) => {
      await v1InBlue();
      const load = startLoad(`${PRODUCTION.url}/notes`, 4);
      const run = startDeploy(images.v2);
      onTestFinished(() => void load.stop().then(run.stop));
      const split = await atFirstStep(PRODUCTION, run.output);
      expect(split).toMatchObject({ "blue-1": 90, "blue-2": 90, "green-1": 10, "green-2": 10 });
      const t0 = Date.now();
      if (sig === "SIGINT") process.kill(-run.child.pid!, sig);
      else run.child.kill(sig);
      const r = await run.done;
      process.stderr.write(`interrupted at 10%: the CLI exited ${((Date.now() - t0) / 1000).toFixed(1)}s after ${sig}: ${r.out.trim()}\n`);
      expect(r.code, r.out).toBe(exit);
      expect(r.out).toMatch(
        new RegExp(
          `^deploy production: interrupted \\(${sig}\\); restored ${images.v1.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(blue\\) to 100% of the traffic after the interrupted deploy of \\S+ by \\S+ \\(started \\S+\\); its green replicas removed$`,
          "m",
        ),
      );
      expect(r.out).not.toMatch(/already live/);
      const report = await load.stop();
      process.stderr.write(`load during the interrupted canary: ${report.sent} sent, ${report.failed} failed\n`);
      expect(report.failed, report.samples.join("; ")).toBe(0);
      // the interrupted controller moves nothing afterwards: still all on blue a window later
      await new Promise((r) => setTimeout(r, 6000));
      expect(await weights(PRODUCTION)).toEqual({ "blue-1": 100, "blue-2": 100, "green-1": 0, "green-2": 0 });
      expect((await replicas(PRODUCTION)).sort()).toEqual(["node-api-blue-1", "node-api-blue-2"]);
      expect(await liveImages(PRODUCTION)).toEqual([images.v1]);
      expect(await noLock(PRODUCTION)).toBe(true);
      expect(existsSync(await progressFile(PRODUCTION))).toBe(false);
    },
  );

  it("SIGKILL at the 10% canary step: the next run restores the stable version first, says so, then deploys", async () => {
    await v1InBlue();
    const run = startDeploy(images.v2);
    onTestFinished(run.stop);
    await atFirstStep(PRODUCTION, run.output);
    process.kill(-run.child.pid!, "SIGKILL"); // the CLI and its engine session, as a crashed runner leaves them
    await run.done;
    const killed = Date.now();
    // the rollout is left half done, recorded on the target
    const progress = JSON.parse(readFileSync(await progressFile(PRODUCTION), "utf8"));
    expect(progress).toMatchObject({ stable: "blue", fresh: "green", image: images.v2, stableImage: images.v1, phase: "rolling-out" });
    expect((await weights(PRODUCTION))["green-1"]).toBeGreaterThan(0);
    // a lock its holder left behind goes stale after 15 s without a heartbeat
    while (!(await noLock(PRODUCTION)) && Date.now() - killed < 16_000) await new Promise((r) => setTimeout(r, 500));
    const rerun = await underLoad(PRODUCTION.url, () => deploy("production", images.v2));
    process.stderr.write(`the run after SIGKILL: ${rerun.result.out.trim()}\n`);
    expect(rerun.result.code, rerun.result.out).toBe(0);
    expect(rerun.result.out).not.toMatch(/already live/);
    expect(rerun.result.out).toMatch(
      /^deploy production: restored \S+ \(blue\) to 100% of the traffic after the interrupted deploy of \S+ by \S+ \(started \S+\); its green replicas removed$/m,
    );
    expect(rerun.result.out).toMatch(/^deploy production: passed, \S+ live in the green slot \(canary, 3 gated step\(s\)/m);
    expect(rerun.load.failed, rerun.load.samples.join("; ")).toBe(0);
    expect(await liveImages(PRODUCTION)).toEqual([images.v2]);
    expect(await noLock(PRODUCTION)).toBe(true);
    expect(existsSync(await progressFile(PRODUCTION))).toBe(false);
  });

  it("two deploys started at once: one is refused as locked and changes nothing, the other deploys; nothing is lost", async () => {
    const [a, b] = [startDeploy(images.v1), startDeploy(v3)];
    onTestFinished(() => [a, b].forEach((r) => r.stop()));
    const [ra, rb] = await Promise.all([a.done, b.done]);
    process.stderr.write(`two deploys at once:\n${ra.out.trim()}\n---\n${rb.out.trim()}\n`);
    const results = [
      { image: images.v1, ...ra },
      { image: v3, ...rb },
    ];
    const won = results.filter((r) => r.code === 0);
    const lost = results.filter((r) => r.code !== 0);
    expect(won.length, results.map((r) => r.out).join("\n---\n")).toBe(1);
    expect(lost[0].code, lost[0].out).toBe(1);
    expect(lost[0].out).toMatch(/^deploy production: locked by \S+, started \S+: wait for it, or, if that run is gone, /m);
    const slot = /^deploy production: passed, \S+ live in the (blue|green) slot/m.exec(won[0].out)?.[1];
    expect(slot, won[0].out).toBeDefined();
    const idle = slot === "blue" ? "green" : "blue";
    expect(await liveImages(PRODUCTION)).toEqual([won[0].image]);
    expect((await replicas(PRODUCTION)).sort()).toEqual([`node-api-${slot}-1`, `node-api-${slot}-2`]);
    expect(await weights(PRODUCTION)).toEqual({ [`${slot}-1`]: 100, [`${slot}-2`]: 100, [`${idle}-1`]: 0, [`${idle}-2`]: 0 });
    expect(await noLock(PRODUCTION)).toBe(true);
  });
});
