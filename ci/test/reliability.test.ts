/**
 * The reliability suite: bad input gets one line naming what is wrong and the fix, a non-zero exit, and nothing
 * deployed; the engine killed mid-run gives a clear error and the rerun succeeds; a planted secret appears in no
 * output, report, log or image layer of a run that uses it.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { $ } from "zx";
import { beforeAll, describe, expect, it } from "vitest";
import { copyWith, EXAMPLE, slipway, tempDir } from "./helpers.ts";
import { paths } from "../platform/host.ts";

const STAGING = "http://127.0.0.1:2381";
async function stagingState(): Promise<string> {
  const res = await fetch(`${STAGING}/containers/json?all=1`);
  const list = (await res.json()) as { Names: string[]; Image: string; State: string }[];
  return JSON.stringify(list.map((c) => [c.Names[0], c.Image, c.State]).sort());
}

let pub: string;
let dirs: Record<string, string>;
beforeAll(async () => {
  expect((await slipway("targets", "up")).code).toBe(0);
  const keys = tempDir("keys");
  process.env.SLIPWAY_RELIABILITY_PASSWORD = "reliability";
  expect((await slipway("keys", "--out", keys, "--password-env", "SLIPWAY_RELIABILITY_PASSWORD")).code).toBe(0);
  pub = join(keys, "cosign.pub");
  const noDockerfile = copyWith("package.json", (t) => t);
  await $({ quiet: true })`rm ${join(noDockerfile, "Dockerfile")}`;
  const badJson = join(tempDir("checks"), "smoke.json");
  writeFileSync(badJson, "[{ not json");
  dirs = {
    noDockerfile,
    brokenLock: copyWith("package-lock.json", (t) => t.slice(0, t.length / 2)),
    noGit: copyWith("package.json", (t) => t),
    badEnvLine: copyWith(".env.staging", (t) => `${t}SLIPWAY_STRATEGY canary\n`),
    literalSecret: copyWith(".env.staging", (t) => `${t}SLIPWAY_APP_SECRET_API_TOKEN=hunter2hunter2\n`),
    badReplicas: copyWith(".env", (t) => `${t}SLIPWAY_REPLICAS=-3\n`),
    badChecks: badJson,
  };
});

/** [what, args, the one line expected (the last line of the output)] */
const CASES: [string, () => string[], RegExp][] = [
  ["unknown command", () => ["deploi"], /^slipway: unknown command "deploi"; run `slipway --help` for the list$/],
  [
    "unknown stage for --until",
    () => ["pipeline", "--until", "deploy"],
    /^slipway: --until deploy: no such stage; stages are lint, typecheck, .*smoke-production$/,
  ],
  ["unknown stage for --skip", () => ["pipeline", "--skip", "lnt"], /^slipway: --skip lnt: no such stage; stages are /],
  [
    "unknown option",
    () => ["pipeline", "--frobnicate"],
    /^slipway: unknown option '--frobnicate' for "pipeline": run `slipway pipeline --help` for its options$/,
  ],
  [
    "wrongly typed option",
    () => ["smoke", "--url", "http://127.0.0.1:18081", "--deadline", "soon"],
    /^slipway: --deadline soon is not a number of seconds$/,
  ],
  ["unknown scanner", () => ["pipeline", "--scanner", "grype"], /^slipway: --scanner: unknown scanner "grype": use trivy or osv-scanner$/],
  [
    "source that does not exist",
    () => ["pipeline", "--source", "/nonexistent/app"],
    /^slipway: --source \/nonexistent\/app does not exist: pass the project directory$/,
  ],
  [
    "missing signing key",
    () => ["pipeline", "--source", EXAMPLE, "--key", "/nonexistent/cosign.key", "--password-env", "X"],
    /^slipway: --key \/nonexistent\/cosign\.key does not exist: make a key pair with `slipway keys/,
  ],
  [
    "signing key password not set",
    () => ["pipeline", "--source", EXAMPLE, "--key", pub, "--password-env", "SLIPWAY_UNSET_PASSWORD_VAR"],
    /^slipway: --password-env SLIPWAY_UNSET_PASSWORD_VAR: that environment variable is not set or empty: export it$/,
  ],
  [
    "vulnerability database that does not exist",
    () => ["pipeline", "--source", EXAMPLE, "--vuln-db", "/nonexistent/db"],
    /^slipway: --vuln-db \/nonexistent\/db does not exist: pass a trivy database or a directory of OSV advisories/,
  ],
  [
    "missing Dockerfile",
    () => ["publish", "--source", dirs.noDockerfile, "--allow-no-commit"],
    /^slipway: no Dockerfile in the source: add one, or pass --dockerfile PATH \(relative to the source\)$/,
  ],
  ["broken lockfile", () => ["lint", "--source", dirs.brokenLock], /^slipway: package-lock\.json .*|dependency install failed|lockfile/],
  ["source that is no git repository", () => ["publish", "--source", dirs.noGit], /not (in|inside) a git|no commit|--allow-no-commit/],
  [
    "invalid image reference",
    () => ["deploy", "--env", "staging", "--source", EXAMPLE, "--image", "node-api:latest", "--public-key", pub],
    /^deploy staging: refused, "node-api:latest" is not a digest reference: deploy what publish returned \(repository@sha256:\.\.\.\); nothing changed$/,
  ],
  [
    "unreachable registry",
    () => [
      "deploy",
      "--env",
      "staging",
      "--source",
      EXAMPLE,
      "--image",
      `127.0.0.1:5999/app@sha256:${"0".repeat(64)}`,
      "--public-key",
      pub,
    ],
    /^deploy staging: refused, no valid signature for 127\.0\.0\.1:5999\/app@sha256:0+ with this key: .*; nothing changed on staging$/,
  ],
  [
    "deploy without an image",
    () => ["deploy", "--env", "staging", "--source", EXAMPLE, "--public-key", pub],
    /^slipway: --image REPOSITORY@sha256:\.\.\. is required: deploy what `slipway release` signed$/,
  ],
  [
    "public key that does not exist",
    () => [
      "deploy",
      "--env",
      "staging",
      "--source",
      EXAMPLE,
      "--image",
      `r/a@sha256:${"0".repeat(64)}`,
      "--public-key",
      "/nonexistent.pub",
    ],
    /^slipway: --public-key \/nonexistent\.pub does not exist: check the path$/,
  ],
  [
    "unknown environment",
    () => ["deploy", "--env", "qa", "--source", EXAMPLE, "--image", `r/a@sha256:${"0".repeat(64)}`, "--public-key", pub],
    /^slipway: no \.env\.qa in .*: create it with SLIPWAY_DOCKER_HOST, SLIPWAY_URL and SLIPWAY_STRATEGY/,
  ],
  [
    "malformed .env file",
    () => ["deploy", "--env", "staging", "--source", dirs.badEnvLine, "--image", `r/a@sha256:${"0".repeat(64)}`, "--public-key", pub],
    /^slipway: .*\/\.env\.staging:\d+: "SLIPWAY_STRATEGY canary" is not NAME=value: fix the line or comment it out with #$/,
  ],
  [
    "secret value written into an .env file",
    () => ["deploy", "--env", "staging", "--source", dirs.literalSecret, "--image", `r/a@sha256:${"0".repeat(64)}`, "--public-key", pub],
    /^slipway: SLIPWAY_APP_SECRET_API_TOKEN .* must say where the secret is \(env:VAR or file:PATH\), never the value itself$/,
  ],
  [
    "wrongly typed .env value",
    () => ["deploy", "--env", "staging", "--source", dirs.badReplicas, "--image", `r/a@sha256:${"0".repeat(64)}`, "--public-key", pub],
    /^slipway: SLIPWAY_REPLICAS .*="-3" is not a replica count \(1-20\)$/,
  ],
  [
    "unknown strategy",
    () => [
      "deploy",
      "--env",
      "staging",
      "--source",
      EXAMPLE,
      "--strategy",
      "big-bang",
      "--image",
      `r/a@sha256:${"0".repeat(64)}`,
      "--public-key",
      pub,
    ],
    /^slipway: --strategy big-bang is not a strategy: use rolling, blue-green, canary$/,
  ],
  [
    "smoke checks that are not JSON",
    () => ["smoke", "--url", "http://127.0.0.1:18081", "--checks", dirs.badChecks],
    /^slipway: .*smoke\.json is not JSON .*: write \[\{"name": "health", "path": "\/health", "status": 200\}\]$/,
  ],
  ["smoke with nothing to check", () => ["smoke"], /^slipway: smoke needs --env NAME \(its SLIPWAY_URL\) or --url URL$/],
  [
    "affected run outside a workspace",
    () => ["pipeline", "--source", EXAMPLE, "--affected-since", "HEAD"],
    /^slipway: --affected-since needs a workspace: .*package\.json declares no "workspaces"$/,
  ],
  [
    "verify without a reference",
    () => ["verify", "--public-key", pub],
    /^slipway: verify needs an image reference: slipway verify REGISTRY\/PATH@sha256:\.\.\. --public-key FILE$/,
  ],
];

describe("bad input", () => {
  it(`${CASES.length} bad inputs: one line naming the fix, a non-zero exit, nothing deployed`, async () => {
    const before = await stagingState();
    const failures: string[] = [];
    for (const [what, args, expected] of CASES) {
      const r = await slipway(...args());
      const last =
        r.out
          .trim()
          .split("\n")
          .filter((l) => !/^npm warn/.test(l))
          .pop() ?? "";
      if (r.code === 0) failures.push(`${what}: exit 0\n${r.out}`);
      else if (!expected.test(last)) failures.push(`${what}: last line ${JSON.stringify(last)} does not match ${expected}`);
      else if (/\n\s+at /.test(r.out)) failures.push(`${what}: a stack trace in the output`);
    }
    expect(failures, failures.join("\n\n")).toEqual([]);
    expect(await stagingState()).toBe(before);
  });
});

describe("faults", () => {
  it("the engine killed in the middle of a run gives a clear error, and the rerun succeeds", async () => {
    const src = copyWith("src/config.ts", (t) => `${t}\nexport const faultRun = ${Date.now()};\n`);
    // a stage that outlasts the kill below, however warm the engine's cache is (the install is cached; the tests take ~2 s)
    writeFileSync(
      join(src, "test/unit/slow.test.ts"),
      'import { it } from "vitest";\nit("outlasts the engine", () => new Promise((r) => setTimeout(r, 20_000)), 30_000);\n',
    );
    const run = slipway("test", "--source", src, "--reports", tempDir("reports"));
    await new Promise((r) => setTimeout(r, 6000));
    await $({ quiet: true })`docker kill dagger-engine-v0.19.10`;
    const r = await run;
    expect(r.code).not.toBe(0);
    const last = r.out.trim().split("\n").pop()!;
    expect(last).toMatch(/^slipway: .*(engine|session|connection).*(slipway engine status|rerun|engine up)/i);
    const again = await slipway("test", "--source", src, "--reports", tempDir("reports"));
    expect(again.code, again.out).toBe(0);
    expect(again.out).toMatch(/^test: passed/m);
  });
});

describe("secrets", () => {
  it("a planted secret appears in no output, report, log or image layer of a run that deploys with it", async () => {
    const planted = `planted-${Math.random().toString(36).slice(2)}-${Date.now()}`;
    process.env.SLIPWAY_PLANTED_SECRET = planted;
    const src = copyWith(".env.staging", (t) => `${t}SLIPWAY_APP_SECRET_PLANTED_TOKEN=env:SLIPWAY_PLANTED_SECRET\n`);
    const reports = tempDir("reports");
    const r = await slipway(
      "pipeline",
      "--source",
      src,
      "--reports",
      reports,
      "--until",
      "smoke-staging",
      "--skip",
      "integration",
      "--allow-no-commit",
    );
    expect(r.code, r.out).toBe(0);
    const leaks: string[] = [];
    if (r.out.includes(planted)) leaks.push("CLI output");
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
    for (const f of files(reports)) if (readFileSync(f).includes(planted)) leaks.push(f);
    for (const f of files(paths.logs)) if (readFileSync(f).includes(planted)) leaks.push(f);
    const engineLogs = await $({ quiet: true, nothrow: true })`docker logs dagger-engine-v0.19.10`;
    if ((engineLogs.stdout + engineLogs.stderr).includes(planted)) leaks.push("engine logs");
    for (const name of ["node-api-blue-1", "node-api-green-1", "node-api-proxy"]) {
      const logs = await $({
        quiet: true,
        nothrow: true,
        env: { ...process.env, DOCKER_HOST: "tcp://127.0.0.1:2381" },
      })`docker logs ${name}`;
      if ((logs.stdout + logs.stderr).includes(planted)) leaks.push(`logs of ${name}`);
    }
    // every layer of the published image
    const ref = JSON.parse(readFileSync(join(reports, "pipeline.json"), "utf8")).image as string;
    const [repo, digest] = ref.replace(/^127\.0\.0\.1:5000\//, "").split("@");
    const manifest = (await (
      await fetch(`http://127.0.0.1:5000/v2/${repo}/manifests/${digest}`, {
        headers: { Accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json" },
      })
    ).json()) as { config: { digest: string }; layers: { digest: string }[] };
    for (const blob of [manifest.config, ...manifest.layers]) {
      const body = Buffer.from(await (await fetch(`http://127.0.0.1:5000/v2/${repo}/blobs/${blob.digest}`)).arrayBuffer());
      const data = body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body) : body;
      if (data.includes(planted)) leaks.push(`image blob ${blob.digest}`);
    }
    expect(leaks).toEqual([]);
    // the secret did reach the app: the deploy used it
    const env = await $({
      quiet: true,
      env: { ...process.env, DOCKER_HOST: "tcp://127.0.0.1:2381" },
    })`docker ps --filter label=slipway.app=node-api --filter label=slipway.slot --format=${"{{.Names}}"}`;
    const inspect = await $({
      quiet: true,
      env: { ...process.env, DOCKER_HOST: "tcp://127.0.0.1:2381" },
    })`docker inspect --format=${"{{json .Config.Env}}"} ${env.stdout.trim().split("\n")[0]}`;
    expect(inspect.stdout).toContain(`PLANTED_TOKEN=${planted}`);
  });
});
