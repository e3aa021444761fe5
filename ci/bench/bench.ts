/**
 * `npm run bench`: feedback time on examples/node-api, in one run, as medians of several runs:
 *   (a) native: npm ci, lint, typecheck, unit tests and `docker build` directly on the host;
 *   (b) the pipeline's same stages cold: the engine's cache emptied (its state volume removed), the mirror warm;
 *   (c) warm, nothing changed;  (d) warm after a one-file source change;
 *   (e) the whole pipeline, lint to production smoke, warm with no change (sign, verify and deploys no-ops);
 *   (f) the whole pipeline after a one-file change, through production;
 *   (g) the CLI's own start: `slipway --help`, and a cached `slipway lint` of the example (its answer is in the
 *       engine's cache: the time is the CLI's start, its connection and one query);
 *   (h) a rollout's duration by target: `slipway deploy` of a new version by blue-green, gated for 5 s, to the
 *       Docker host on this machine (staging) and to the Docker host over SSH (`targets up ssh-host`).
 * Prints the times, the ratios b/a, c/a, d/a and (g)'s targets with the machine and date, and writes BENCHMARKS.md.
 * Options: --runs N (default 3), --out FILE (default BENCHMARKS.md), --only abcd,ef,g,h (some groups of measures:
 * prints their rows and writes a file only when --out is given).
 */
import { execFile, execFileSync } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { $ } from "zx";
import { ENGINE_CONTAINER, ENGINE_VOLUME } from "../platform/engine.ts";
import { DAGGER_VERSION } from "../platform/versions.ts";
import { commitOf } from "../cli/git.ts";
import { normalSource } from "../../modules/sign/src/policy.ts";

const ROOT = join(import.meta.dirname, "../..");
const EXAMPLE = join(ROOT, "examples/node-api");
const CLI = join(ROOT, "ci/bin/slipway.js");
/** The pipeline's stages that match the native steps (the install happens inside each of them). */
const STAGES = "lint,typecheck,test,build";

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, out: { type: "string" }, only: { type: "string" } } });
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs ${values.runs} is not a positive whole number`);
const GROUPS = ["abcd", "ef", "g", "h"];
const ONLY = values.only?.split(",");
for (const g of ONLY ?? [])
  if (!GROUPS.includes(g)) throw new Error(`--only ${values.only}: name groups of measures among ${GROUPS.join(", ")}`);
const wants = (group: string) => !ONLY || ONLY.includes(group);
const OUT = values.out ?? (values.only ? undefined : join(ROOT, "BENCHMARKS.md"));

const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A fresh git copy of the example (the pipeline tags images by commit). */
async function copy(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-"));
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/node_modules|reports|dist/.test(src.slice(EXAMPLE.length)) });
  await $({
    cwd: dir,
    quiet: true,
  })`git init -q -b main && git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm bench`;
  return dir;
}

async function timed(what: string, fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  const s = (performance.now() - t0) / 1000;
  say(`${what}: ${s.toFixed(1)} s`);
  return s;
}

/**
 * The native steps. The host's Docker builds the Dockerfile; its containers need the machine's extra CA
 * certificates to reach npm, as the engine gives them to its own: a one-time local image adds them to node.
 */
async function nativeBaseImage(): Promise<void> {
  const ca = (await $({ quiet: true })`cat /usr/local/share/ca-certificates/*.crt`.nothrow()).stdout;
  const ctx = mkdtempSync(join(tmpdir(), "slipway-bench-base-"));
  writeFileSync(join(ctx, "extra-ca.crt"), ca);
  writeFileSync(
    join(ctx, "Dockerfile"),
    "FROM node:22-bookworm-slim\nCOPY extra-ca.crt /opt/extra-ca.crt\nENV NODE_EXTRA_CA_CERTS=/opt/extra-ca.crt\n",
  );
  await $({ cwd: ctx, quiet: true })`docker build -q -t slipway-bench/node:22-bookworm-slim .`;
}

async function native(dir: string): Promise<number> {
  const sh = $({ cwd: dir, quiet: true, env: { ...process.env, CI: "true" } });
  const dockerfile = readFileSync(join(dir, "Dockerfile"), "utf8").replaceAll(
    "FROM node:22-bookworm-slim",
    "FROM slipway-bench/node:22-bookworm-slim",
  );
  writeFileSync(join(dir, "Dockerfile.bench"), dockerfile);
  return timed("native", async () => {
    await sh`npm ci --no-audit --no-fund`;
    await sh`npm run lint`;
    await sh`npm run typecheck`;
    await sh`npm test`;
    await sh`docker build -q --no-cache -f Dockerfile.bench -t slipway-bench/node-api .`;
  });
}

function pipeline(dir: string, label: string, stages = ["--only", STAGES]): Promise<number> {
  return timed(label, async () => {
    const r = await $({ quiet: true, nothrow: true })`node ${CLI} pipeline --source ${dir} ${stages} --reports ${join(dir, "reports")}`;
    if (r.exitCode !== 0)
      throw new Error(`the pipeline failed during the bench (${label}): ${r.stdout.slice(-1500)}${r.stderr.slice(-500)}`);
  });
}

/** Empties the engine's cache: the engine container and its state volume go, `engine up` starts a fresh one. */
async function coldEngine(): Promise<void> {
  await $({ quiet: true, nothrow: true })`docker rm -f ${ENGINE_CONTAINER}`;
  await $({ quiet: true, nothrow: true })`docker volume rm ${ENGINE_VOLUME}`;
  await $({ quiet: true })`node ${CLI} engine up`;
}

const run = promisify(execFile);

/** One start of the CLI as a user runs it (node, no shell), wall time in seconds. */
async function cliTime(args: string[]): Promise<number> {
  const t0 = performance.now();
  await run("node", [CLI, ...args]).catch((err: { stdout?: string; stderr?: string }) => {
    throw new Error(`slipway ${args.join(" ")} failed during the bench: ${err.stdout?.slice(-1500)}${err.stderr?.slice(-500)}`);
  });
  return (performance.now() - t0) / 1000;
}

/** (g): `slipway --help`, and `slipway lint` of the copy with its answer in the engine's cache, RUNS times each. */
async function cliStart(dir: string): Promise<{ help: number[]; lint: number[] }> {
  const lint = ["lint", "--source", dir, "--reports", join(dir, "reports")];
  // not timed: the first start builds the CLI's bundle if a source changed since, the first lint fills the cache
  await cliTime(["--help"]);
  await cliTime(lint);
  const help: number[] = [],
    cached: number[] = [];
  for (let i = 1; i <= RUNS; i++) {
    help.push(await cliTime(["--help"]));
    cached.push(await cliTime(lint));
    say(`slipway --help: ${help[i - 1].toFixed(2)} s; cached slipway lint: ${cached[i - 1].toFixed(2)} s`);
  }
  return { help, lint: cached };
}

/**
 * (e) and (f): the whole pipeline, deploys and smoke checks included, on a copy deployed once first (not timed):
 * RUNS times, a rerun with no change, then a one-file change committed and run through production.
 */
async function wholePipeline(dir: string): Promise<{ e: number[]; f: number[] }> {
  await pipeline(dir, "whole pipeline, first run (not timed)", ["--approve"]);
  const e: number[] = [],
    f: number[] = [];
  for (let i = 1; i <= RUNS; i++) {
    e.push(await pipeline(dir, "whole pipeline warm, no change", ["--approve"]));
    appendFileSync(join(dir, "src/notes.ts"), `\nexport const benchWhole${i} = ${i};\n`);
    await $({ cwd: dir, quiet: true })`git -c user.name=bench -c user.email=bench@localhost commit -qam edit`;
    f.push(await pipeline(dir, "whole pipeline after a one-file change", ["--approve"]));
  }
  return { e, f };
}

/**
 * (h): two signed versions of a copy, trusted for its environments in a trust directory of the bench's own, then
 * deployed in turn RUNS times to each target by blue-green with a 5 s gate (the first deploy to each not timed).
 */
async function rollouts(dir: string): Promise<{ local: number[]; ssh: number[] }> {
  const keys = mkdtempSync(join(tmpdir(), "slipway-bench-keys-"));
  const env = { ...process.env, SLIPWAY_TRUST_DIR: mkdtempSync(join(tmpdir(), "slipway-bench-trust-")), SLIPWAY_BENCH_KEY: "bench" };
  const cli = (...args: string[]) => $({ quiet: true, env })`node ${CLI} ${args}`;
  await cli("targets", "up");
  await cli("targets", "up", "ssh-host");
  await cli("keys", "--out", keys, "--password-env", "SLIPWAY_BENCH_KEY");
  const release = async () => {
    const out = (
      await cli(
        "release",
        "--source",
        dir,
        "--key",
        join(keys, "cosign.key"),
        "--password-env",
        "SLIPWAY_BENCH_KEY",
        "--vuln-db",
        join(ROOT, "ci/test/fixtures/osv"),
        "--reports",
        join(dir, "reports"),
      )
    ).stdout;
    return /^publish: (\S+@sha256:[0-9a-f]{64})$/m.exec(out)![1];
  };
  const versions = [await release()];
  appendFileSync(join(dir, "src/notes.ts"), "\nexport const benchRollout = 2;\n");
  await $({ cwd: dir, quiet: true })`git -c user.name=bench -c user.email=bench@localhost commit -qam rollout`;
  versions.push(await release());
  const settings = "SLIPWAY_STRATEGY=blue-green\nSLIPWAY_GATE_WINDOW=5s\n";
  for (const target of ["staging", "remote"]) {
    writeFileSync(join(dir, `.env.${target}.local`), settings);
    await cli(
      "trust",
      "add",
      "--env",
      target,
      "--public-key",
      join(keys, "cosign.pub"),
      "--source",
      normalSource((await commitOf(dir))!.source),
    );
  }
  const deploy = (target: string, image: string) =>
    timed(`rollout to ${target}`, () =>
      cli("deploy", "--env", target, "--source", dir, "--image", image, "--reports", join(dir, "reports")),
    );
  const local: number[] = [],
    ssh: number[] = [];
  for (const target of ["staging", "remote"]) await deploy(target, versions[1]); // not timed: whatever was live before
  for (let i = 0; i < RUNS; i++) {
    local.push(await deploy("staging", versions[i % 2]));
    ssh.push(await deploy("remote", versions[i % 2]));
  }
  return { local, ssh };
}

await $({ quiet: true })`node ${CLI} engine up`;
const a: number[] = [],
  b: number[] = [],
  c: number[] = [],
  d: number[] = [];
let dir: string | undefined;
if (wants("abcd")) {
  await nativeBaseImage();
  for (let i = 1; i <= RUNS; i++) {
    say(`run ${i} of ${RUNS}`);
    dir = await copy();
    a.push(await native(dir));
    await $({ cwd: dir, quiet: true })`rm -rf node_modules dist Dockerfile.bench`;
    await coldEngine();
    b.push(await pipeline(dir, "pipeline cold"));
    c.push(await pipeline(dir, "pipeline warm, no change"));
    appendFileSync(join(dir, "src/notes.ts"), `\nexport const benchEdit${i} = ${i};\n`);
    await $({ cwd: dir, quiet: true })`git -c user.name=bench -c user.email=bench@localhost commit -qam edit`;
    d.push(await pipeline(dir, "pipeline after a one-file change"));
  }
}
const whole = wants("ef") ? (say("the whole pipeline"), await wholePipeline(await copy())) : { e: [], f: [] };
const g = wants("g") ? (say("the CLI's start"), await cliStart(dir ?? (await copy()))) : { help: [], lint: [] };
const h = wants("h") ? (say("rollouts by target"), await rollouts(await copy())) : { local: [], ssh: [] };

const [ma, mb, mc, md] = [a, b, c, d].map(median);
const [mgHelp, mgLint, me, mf, mhLocal, mhSsh] = [g.help, g.lint, whole.e, whole.f, h.local, h.ssh].map(median);
const cpu = cpus()[0]?.model ?? "unknown CPU";
const machine = `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${execFileSync("sh", ["-c", ". /etc/os-release && echo $PRETTY_NAME"]).toString().trim()}`;
const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
const fmt = (xs: number[], digits = 1) => xs.map((x) => x.toFixed(digits)).join(", ");
const ratio = (x: number, target: number) => `${(x / ma).toFixed(2)} (target ≤ ${target}: ${x / ma <= target ? "met" : "not met"})`;
const seconds = (x: number, target: number) => `target ≤ ${target} s: ${x <= target ? "met" : "not met"}`;
const table = [
  "| measure | median | runs (s) | ratio to native, or target |",
  "| --- | ---: | --- | --- |",
  ...(!wants("abcd")
    ? []
    : [
        `| (a) native: npm ci, lint, typecheck, unit tests, docker build | ${ma.toFixed(1)} s | ${fmt(a)} | 1.00 |`,
        `| (b) pipeline cold (engine cache emptied, mirror warm) | ${mb.toFixed(1)} s | ${fmt(b)} | b/a = ${ratio(mb, 1.5)} |`,
        `| (c) pipeline warm, no change | ${mc.toFixed(1)} s | ${fmt(c)} | c/a = ${ratio(mc, 0.1)} |`,
        `| (d) pipeline warm, one source file changed | ${md.toFixed(1)} s | ${fmt(d)} | d/a = ${ratio(md, 0.5)} |`,
      ]),
  ...(!wants("ef")
    ? []
    : [
        `| (e) whole pipeline warm, no change (lint to production smoke) | ${me.toFixed(1)} s | ${fmt(whole.e)} | ${seconds(me, 10)} |`,
        `| (f) whole pipeline, one source file changed, through production | ${mf.toFixed(1)} s | ${fmt(whole.f)} | measured |`,
      ]),
  ...(!wants("g")
    ? []
    : [
        `| (g) CLI start: \`slipway --help\` | ${mgHelp.toFixed(2)} s | ${fmt(g.help, 2)} | ${seconds(mgHelp, 0.3)} |`,
        `| (g) CLI start: cached \`slipway lint\` of the example | ${mgLint.toFixed(2)} s | ${fmt(g.lint, 2)} | ${seconds(mgLint, 1.5)} |`,
      ]),
  ...(!wants("h")
    ? []
    : [
        `| (h) rollout, blue-green with a 5 s gate: Docker host on this machine (staging) | ${mhLocal.toFixed(1)} s | ${fmt(h.local)} | measured |`,
        `| (h) rollout, blue-green with a 5 s gate: Docker host over SSH (ssh-host) | ${mhSsh.toFixed(1)} s | ${fmt(h.ssh)} | ssh/local = ${(mhSsh / mhLocal).toFixed(2)} |`,
      ]),
].join("\n");
process.stdout.write(`\n${date} on ${machine}; Dagger ${DAGGER_VERSION}; ${RUNS} run(s) each, medians\n\n${table}\n`);
const efText = `- (e) and (f) run the whole pipeline (deploys to the local staging and production targets and their smoke
  checks included) on another fresh copy, deployed once first (not timed); (e) reruns it with no change (signing,
  verifying and deploying what is already live are no-ops), (f) after one line appended to src/notes.ts and
  committed (a new image, signed, verified and rolled out by each environment's strategy and gates).
`;
const gText = `- (g) times whole starts of the CLI (\`node ci/bin/slipway.js\`, from its bundle), after one untimed start of each:
  \`slipway --help\` (no engine), and \`slipway lint --source <the copy>\` whose answer the engine has cached, so
  what remains is the start, the connection to the engine and one query.
`;
const hText = `- (h) deploys two signed versions of a fresh copy in turn (each deploy a real rollout: new replicas, health
  checks, the traffic switched, a 5 s gate, the old ones retired), \`slipway deploy\` timed whole (verification
  included), to the local staging target and to the SSH test host; the first deploy to each is not timed.
`;
if (OUT) {
  writeFileSync(
    OUT,
    values.only
      ? `# Benchmarks: ${values.only}

Written by \`npm run bench -- --only ${values.only}\` (ci/bench/bench.ts) on ${date}: ${machine}; Dagger ${DAGGER_VERSION};
${RUNS} run(s) of each measure, medians.

${table}

${wants("ef") ? efText : ""}${wants("g") ? gText : ""}${wants("h") ? hText : ""}`
      : `# Benchmarks

Written by \`npm run bench\` (ci/bench/bench.ts) on ${date}: ${machine}; Dagger ${DAGGER_VERSION}; ${RUNS} run(s) of
each measure, medians. The pipeline runs the stages that match the native steps (\`--only ${STAGES}\`: each
installs the dependencies in its container, the image build pushes to the local registry); the example is a
fresh git copy of examples/node-api each run.

${table}

- (a) runs directly on the host: \`npm ci\`, \`npm run lint\`, \`npm run typecheck\`, \`npm test\`, then
  \`docker build --no-cache\` of the example's Dockerfile with the host's Docker (its base image given the machine's
  extra CA certificates, which the engine gives its containers too).
- (b) empties the engine's cache before each run (engine container and its state volume removed, \`engine up\`
  starts a fresh one, not timed); the local registry mirror stays warm.
- (c) reruns (b)'s source unchanged; (d) appends one line to src/notes.ts and commits it.
${efText}${gText}${hText}`,
  );
  say(`wrote ${OUT}`);
}
