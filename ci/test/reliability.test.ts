/**
 * The reliability suite: bad input gets one line naming what is wrong and the fix, a non-zero exit, and nothing
 * deployed; the engine killed mid-run gives a clear error and the rerun succeeds; a planted secret appears in no
 * output, report, log or image layer of a run that uses it. Input: .env values that would reach HAProxy's
 * configuration, a Docker API URL or git's command line, and secret references outside the operator's allowlist,
 * are refused in one line; a git remote's credentials reach no label, attestation or report; a dirty tree is not
 * signed without --allow-dirty.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { $ } from "zx";
import { beforeAll, describe, expect, it } from "vitest";
import { copyExample, copyWith, EXAMPLE, ROOT, slipway, tempDir } from "./helpers.ts";
import { paths } from "../platform/host.ts";
import { trustKey } from "../cli/trust.ts";
import { GO_TOOLS } from "../platform/versions.ts";

/** The staging target's Docker API: its unix socket (root only; no TCP). */
const STAGING = "unix:///var/cache/slipway/targets/staging/docker.sock";
async function stagingState(): Promise<string> {
  const ps = await $({
    quiet: true,
    env: { ...process.env, DOCKER_HOST: STAGING },
  })`docker ps -a --format ${"{{.Names}} {{.Image}} {{.State}}"}`;
  return JSON.stringify(ps.stdout.trim().split("\n").sort());
}

let pub: string;
let dirs: Record<string, string>;
beforeAll(async () => {
  expect((await slipway("targets", "up")).code).toBe(0);
  const keys = tempDir("keys");
  process.env.SLIPWAY_RELIABILITY_PASSWORD = "reliability";
  expect((await slipway("keys", "--out", keys, "--password-env", "SLIPWAY_RELIABILITY_PASSWORD")).code).toBe(0);
  pub = join(keys, "cosign.pub");
  // the cases that reach verification: staging trusts this key (a trust directory of this file's own)
  process.env.SLIPWAY_TRUST_DIR = tempDir("trust");
  trustKey("staging", readFileSync(pub, "utf8"), ["https://git.example.com/reliability/app"]);
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
    // APP_SECRET_*: the variables the default secret-sources allowlist lets a project name
    process.env.APP_SECRET_RELIABILITY_PLANTED = planted;
    const src = copyWith(".env.staging", (t) => `${t}SLIPWAY_APP_SECRET_PLANTED_TOKEN=env:APP_SECRET_RELIABILITY_PLANTED\n`);
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
        env: { ...process.env, DOCKER_HOST: STAGING },
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
      env: { ...process.env, DOCKER_HOST: STAGING },
    })`docker ps --filter label=slipway.app=node-api --filter label=slipway.slot --format=${"{{.Names}}"}`;
    const inspect = await $({
      quiet: true,
      env: { ...process.env, DOCKER_HOST: STAGING },
    })`docker inspect --format=${"{{json .Config.Env}}"} ${env.stdout.trim().split("\n")[0]}`;
    // as a file /run/secrets/PLANTED_TOKEN, named in the environment, its value not in `docker inspect`
    expect(inspect.stdout).toContain("PLANTED_TOKEN_FILE=/run/secrets/PLANTED_TOKEN");
    expect(inspect.stdout).not.toContain(planted);
    const file = await $({
      quiet: true,
      env: { ...process.env, DOCKER_HOST: STAGING },
    })`docker exec ${env.stdout.trim().split("\n")[0]} cat /run/secrets/PLANTED_TOKEN`;
    expect(file.stdout.trim()).toBe(planted);
  }, 900_000); // a pipeline through staging's smoke checks: minutes on a cold engine cache
});

/** The last line of a command's output (npm's own warnings left out). */
const lastLine = (out: string) =>
  out
    .trim()
    .split("\n")
    .filter((l) => !/^npm warn/.test(l))
    .pop() ?? "";

/** Every file under dir, recursively. */
const filesUnder = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? filesUnder(join(dir, f)) : [join(dir, f)]));

describe("input", () => {
  /** [what, the lines added to the example's .env.staging, the one line expected] */
  const INJECTIONS: [string, string, RegExp][] = [
    [
      "a newline in the health path (dotenv's \\n in double quotes: a second line in HAProxy's configuration)",
      'SLIPWAY_HEALTH_PATH="/health\\nbackend evil"',
      /^slipway: SLIPWAY_HEALTH_PATH \(from \.env\.staging\)="\/health\\nbackend evil" is not a URL path: write \/PATH from letters, digits and .* \(e\.g\. \/health\)$/,
    ],
    [
      "a ; in the gitops branch (a command next to the token)",
      "SLIPWAY_DEPLOY_TARGET=gitops\nSLIPWAY_GITOPS_REMOTE=https://git.example.com/team/manifests.git\nSLIPWAY_GITOPS_BRANCH=main;touch /tmp/slipway-injected",
      /^slipway: SLIPWAY_GITOPS_BRANCH \(from \.env\.staging\)="main;touch \/tmp\/slipway-injected" is not a branch name: use letters, digits and \. _ \/ - \(e\.g\. main or deploy\/staging\)$/,
    ],
    [
      "?&/ in the app name (a Docker API URL)",
      "SLIPWAY_APP=node-api?all=1&/x",
      /^slipway: SLIPWAY_APP \(from \.env\.staging\)="node-api\?all=1&\/x" is not an app name: use up to 63 lowercase letters, digits, "\.", "_" and "-" \(e\.g\. node-api\)$/,
    ],
    [
      "a secret reference to the signing keys",
      `SLIPWAY_APP_SECRET_SIGNING_KEY=file:${paths.cache}/keys/cosign.key`,
      /^slipway: SLIPWAY_APP_SECRET_SIGNING_KEY \(from \.env\.staging\)="file:.*\/keys\/cosign\.key" is refused: Slipway's signing keys, registry credentials and SSH test host keys .* are never a secret source: give the app a secret file of its own$/,
    ],
    [
      "a secret reference to a host file outside the allowlist",
      "SLIPWAY_APP_SECRET_SHADOW=file:/etc/shadow",
      /^slipway: SLIPWAY_APP_SECRET_SHADOW \(from \.env\.staging\)="file:\/etc\/shadow" is refused: file:\/etc\/shadow is outside the secret sources the operator allows \(.*\): to allow it, add the line "file:\/etc\/shadow" to \/etc\/slipway\/secret-sources \(root-owned, mode 644\)$/,
    ],
    [
      "a secret reference to Slipway's own variables",
      "SLIPWAY_APP_SECRET_PASSWORD=env:SLIPWAY_RELIABILITY_PASSWORD",
      /^slipway: SLIPWAY_APP_SECRET_PASSWORD \(from \.env\.staging\)="env:SLIPWAY_RELIABILITY_PASSWORD" is refused: Slipway's own variables \(SLIPWAY_\*, COSIGN_\*\) are never a secret source: export the app's secret under a name of its own \(e\.g\. APP_SECRET_RELIABILITY_PASSWORD\)$/,
    ],
  ];

  it(`${INJECTIONS.length} injection strings and secret references in .env files: refused by deploy in one line, a non-zero exit, nothing changed`, async () => {
    const before = await stagingState();
    const failures: string[] = [];
    for (const [what, lines, expected] of INJECTIONS) {
      const src = copyWith(".env.staging", (t) => `${t}${lines}\n`);
      const r = await slipway(
        "deploy",
        "--env",
        "staging",
        "--source",
        src,
        "--image",
        `127.0.0.1:5000/node-api@sha256:${"0".repeat(64)}`,
        "--public-key",
        pub,
      );
      const last = lastLine(r.out);
      if (r.code === 0) failures.push(`${what}: exit 0\n${r.out}`);
      else if (!expected.test(last)) failures.push(`${what}: last line ${JSON.stringify(last)} does not match ${expected}`);
      else if (/\n\s+at /.test(r.out)) failures.push(`${what}: a stack trace in the output`);
    }
    expect(failures, failures.join("\n\n")).toEqual([]);
    expect(existsSync("/tmp/slipway-injected")).toBe(false);
    expect(await stagingState()).toBe(before);
  });
});

describe("source", () => {
  const TOKEN = `SECRETTOKEN${Date.now()}`;
  const REMOTE = "https://git.example.com/team/node-api.git";
  const COSIGN = join(paths.cache, "tools", `cosign-${GO_TOOLS.cosign.version}`, "cosign");
  let repo: string;
  const release = (reports: string, ...extra: string[]) =>
    slipway(
      "release",
      "--source",
      repo,
      "--key",
      join(dirname(pub), "cosign.key"),
      "--password-env",
      "SLIPWAY_RELIABILITY_PASSWORD",
      "--vuln-db",
      join(ROOT, "ci/test/fixtures/osv"),
      "--repository",
      "127.0.0.1:5000/reliability/source",
      "--reports",
      reports,
      ...extra,
    );
  /** The attestations of ref as cosign verifies and reads them from the registry (all as text), and the SLSA provenance. */
  const attestations = async (ref: string) => {
    const common = ["--key", pub, "--insecure-ignore-tlog=true", "--allow-http-registry"];
    let text = "";
    let provenance: { buildDefinition: { externalParameters: object; resolvedDependencies: { annotations?: object }[] } } | undefined;
    for (const type of ["slsaprovenance1", "cyclonedx", "vuln"]) {
      const att = await $({ quiet: true, nothrow: true })`${COSIGN} verify-attestation ${common} --type ${type} ${ref}`;
      expect(att.exitCode, att.stderr).toBe(0);
      for (const line of att.stdout.trim().split("\n")) {
        const statement = JSON.parse(Buffer.from(JSON.parse(line).payload, "base64").toString());
        text += JSON.stringify(statement);
        if (type === "slsaprovenance1") provenance ??= statement.predicate;
      }
      text += att.stderr;
    }
    return { text, provenance: provenance! };
  };

  beforeAll(async () => {
    // a clone whose origin carries a token, as CI checkouts with an embedded token do
    repo = copyExample(tempDir("source"));
    const git = $({ cwd: repo, quiet: true });
    await git`git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm app`;
    const origin = `${REMOTE.replace("https://", `https://ci:${TOKEN}@`)}?private_token=${TOKEN}`;
    await git`git remote add origin ${origin}`;
  });

  it("a remote https://user:TOKEN@host/r.git: the token is in no output, label, attestation or report", async () => {
    const reports = tempDir("reports");
    const r = await release(reports);
    expect(r.code, r.out).toBe(0);
    const ref = /^publish: (\S+@sha256:[0-9a-f]{64})$/m.exec(r.out)![1];
    const leaks: string[] = [];
    if (r.out.includes(TOKEN)) leaks.push("CLI output");
    for (const f of filesUnder(reports)) if (readFileSync(f).includes(TOKEN)) leaks.push(f);
    // the image's labels, from its config as the registry serves it
    const [repoPath, digest] = ref.replace(/^127\.0\.0\.1:5000\//, "").split("@");
    const manifest = (await (
      await fetch(`http://127.0.0.1:5000/v2/${repoPath}/manifests/${digest}`, {
        headers: { Accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json" },
      })
    ).json()) as { config: { digest: string } };
    const config = await (await fetch(`http://127.0.0.1:5000/v2/${repoPath}/blobs/${manifest.config.digest}`)).text();
    if (config.includes(TOKEN)) leaks.push("image config");
    const labels = (JSON.parse(config) as { config: { Labels: Record<string, string> } }).config.Labels;
    expect(labels["org.opencontainers.image.source"]).toBe(REMOTE);
    // the signed attestations
    const { text, provenance } = await attestations(ref);
    if (text.includes(TOKEN)) leaks.push("attestations");
    expect(provenance.buildDefinition.externalParameters).toMatchObject({ source: REMOTE, dirty: false });
    expect(leaks).toEqual([]);
  });

  it("a dirty tree is refused by release in one line, before anything runs; with --allow-dirty it is signed and the provenance says dirty", async () => {
    // a change that reaches the image (an unchanged image keeps the clean commit's attestations, rightly)
    writeFileSync(join(repo, "src", "uncommitted.ts"), "export const uncommitted = true;\n");
    const refused = await release(tempDir("reports"));
    expect(refused.code).not.toBe(0);
    expect(lastLine(refused.out)).toBe(
      "slipway: the source has uncommitted changes (1 file): commit them, or pass --allow-dirty to sign it anyway",
    );
    expect(refused.out).not.toMatch(/^publish:/m);
    const reports = tempDir("reports");
    const allowed = await release(reports, "--allow-dirty");
    expect(allowed.code, allowed.out).toBe(0);
    const ref = /^publish: (\S+@sha256:[0-9a-f]{64})$/m.exec(allowed.out)![1];
    const written = JSON.parse(readFileSync(join(reports, "sign", "provenance.json"), "utf8"));
    expect(written.buildDefinition.externalParameters.dirty).toBe(true);
    const { provenance } = await attestations(ref);
    expect(provenance.buildDefinition.externalParameters).toMatchObject({ source: REMOTE, dirty: true });
    expect(provenance.buildDefinition.resolvedDependencies[0].annotations).toMatchObject({ dirty: true });
  });
});
