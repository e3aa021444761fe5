/**
 * Deploy and smoke on the real engine and the local targets (a Docker engine and PostgreSQL per environment,
 * HAProxy in front), through the CLI as a user runs it: staging by blue-green, production by canary, both under
 * constant load from a loopback generator; a broken version rolled back automatically; rollback; an unsigned
 * image refused; the GitOps target against a local bare repository served by git daemon.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyWith, EXAMPLE, ROOT, slipway, tempDir } from "./helpers.ts";
import { startLoad } from "./load.ts";

const PASSWORD = "slipway-deploy-test-password";
process.env.SLIPWAY_DEPLOY_TEST_PASSWORD = PASSWORD;
const STAGING = { docker: "http://127.0.0.1:2381", url: "http://127.0.0.1:18081" };
const PRODUCTION = { docker: "http://127.0.0.1:2382", url: "http://127.0.0.1:18082" };

let keys: string;
const images: Record<"v1" | "v2" | "broken", string> = { v1: "", v2: "", broken: "" };

/** What runs on a target: container name -> the image it was deployed from (its slipway.image label). */
async function live(target: { docker: string }): Promise<Record<string, string>> {
  const res = await fetch(
    `${target.docker}/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: ["slipway.app=node-api"] }))}`,
  );
  const list = (await res.json()) as { Names: string[]; Labels: Record<string, string> }[];
  return Object.fromEntries(list.map((c) => [c.Names[0].slice(1), c.Labels["slipway.image"] ?? "proxy"]));
}

const liveImages = async (target: { docker: string }) => [...new Set(Object.values(await live(target)).filter((v) => v !== "proxy"))];

async function reset(target: { docker: string }): Promise<void> {
  const res = await fetch(
    `${target.docker}/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ["slipway.app=node-api"] }))}`,
  );
  for (const c of (await res.json()) as { Id: string }[]) await fetch(`${target.docker}/containers/${c.Id}?force=1`, { method: "DELETE" });
}

async function release(source: string, ...extra: string[]): Promise<string> {
  const r = await slipway(
    "release",
    "--source",
    source,
    "--key",
    join(keys, "cosign.key"),
    "--password-env",
    "SLIPWAY_DEPLOY_TEST_PASSWORD",
    "--vuln-db",
    join(ROOT, "ci/test/fixtures/osv"),
    "--reports",
    tempDir("reports"),
    ...extra,
  );
  expect(r.code, r.out).toBe(0);
  return /^publish: (\S+@sha256:[0-9a-f]{64})$/m.exec(r.out)![1];
}

const deploy = (env: string, image: string, ...extra: string[]) =>
  slipway(
    "deploy",
    "--env",
    env,
    "--source",
    EXAMPLE,
    "--image",
    image,
    "--public-key",
    join(keys, "cosign.pub"),
    "--reports",
    tempDir("reports"),
    ...extra,
  );

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
  const v2 = copyWith("src/notes.ts", (t) => `${t}\nexport const version = 2;\n`);
  const broken = copyWith("src/app.ts", (t) =>
    t.replace(
      'app.get("/notes", async () => notes.list());',
      'app.get("/notes", async (_req, reply) => reply.code(500).send({ error: "deliberately broken" }));',
    ),
  );
  expect(readFileSync(join(broken, "src/app.ts"), "utf8")).toContain("deliberately broken");
  images.v1 = await release(EXAMPLE);
  images.v2 = await release(v2, "--allow-no-commit", "--repository", "127.0.0.1:5000/node-api");
  images.broken = await release(broken, "--allow-no-commit", "--repository", "127.0.0.1:5000/node-api");
});

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
    const unscanned = copyWith("src/notes.ts", (t) => `${t}\nexport const unscanned = ${Date.now()};\n`);
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
    expect(signed.out).toMatch(/^ {2}sign\s+passed\s.*sign: signed \S+, SBOM attested, provenance attested$/m); // no scan attested
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
