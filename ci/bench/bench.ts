/**
 * `npm run bench`: feedback time on examples/node-api, in one run, as medians of several runs:
 *   (a) native: npm ci, lint, typecheck, unit tests and `docker build` directly on the host;
 *   (b) the pipeline's same stages cold: the engine's cache emptied (its state volume removed), the mirror warm;
 *   (c) warm, nothing changed;  (d) warm after a one-file source change.
 * Prints the four times and the ratios b/a, c/a, d/a with the machine and date, and writes BENCHMARKS.md.
 * Options: --runs N (default 3), --out FILE (default BENCHMARKS.md).
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { $ } from "zx";
import { ENGINE_CONTAINER, ENGINE_VOLUME } from "../platform/engine.ts";
import { DAGGER_VERSION } from "../platform/versions.ts";

const ROOT = join(import.meta.dirname, "../..");
const EXAMPLE = join(ROOT, "examples/node-api");
const CLI = join(ROOT, "ci/bin/slipway.js");
/** The pipeline's stages that match the native steps (the install happens inside each of them). */
const STAGES = "lint,typecheck,test,build";

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, out: { type: "string", default: join(ROOT, "BENCHMARKS.md") } } });
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs ${values.runs} is not a positive whole number`);

const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A fresh git copy of the example (the pipeline tags images by commit). */
async function copy(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-"));
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/node_modules|reports|dist/.test(src.slice(EXAMPLE.length)) });
  await $({ cwd: dir, quiet: true })`git init -q -b main && git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm bench`;
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
  writeFileSync(join(ctx, "Dockerfile"), "FROM node:22-bookworm-slim\nCOPY extra-ca.crt /opt/extra-ca.crt\nENV NODE_EXTRA_CA_CERTS=/opt/extra-ca.crt\n");
  await $({ cwd: ctx, quiet: true })`docker build -q -t slipway-bench/node:22-bookworm-slim .`;
}

async function native(dir: string): Promise<number> {
  const sh = $({ cwd: dir, quiet: true, env: { ...process.env, CI: "true" } });
  const dockerfile = readFileSync(join(dir, "Dockerfile"), "utf8").replaceAll("FROM node:22-bookworm-slim", "FROM slipway-bench/node:22-bookworm-slim");
  writeFileSync(join(dir, "Dockerfile.bench"), dockerfile);
  return timed("native", async () => {
    await sh`npm ci --no-audit --no-fund`;
    await sh`npm run lint`;
    await sh`npm run typecheck`;
    await sh`npm test`;
    await sh`docker build -q --no-cache -f Dockerfile.bench -t slipway-bench/node-api .`;
  });
}

function pipeline(dir: string, label: string): Promise<number> {
  return timed(label, async () => {
    const r = await $({ quiet: true, nothrow: true })`node ${CLI} pipeline --source ${dir} --only ${STAGES} --reports ${join(dir, "reports")}`;
    if (r.exitCode !== 0) throw new Error(`the pipeline failed during the bench (${label}): ${r.stdout.slice(-1500)}${r.stderr.slice(-500)}`);
  });
}

/** Empties the engine's cache: the engine container and its state volume go, `engine up` starts a fresh one. */
async function coldEngine(): Promise<void> {
  await $({ quiet: true, nothrow: true })`docker rm -f ${ENGINE_CONTAINER}`;
  await $({ quiet: true, nothrow: true })`docker volume rm ${ENGINE_VOLUME}`;
  await $({ quiet: true })`node ${CLI} engine up`;
}

await $({ quiet: true })`node ${CLI} engine up`;
await nativeBaseImage();
const a: number[] = [], b: number[] = [], c: number[] = [], d: number[] = [];
for (let i = 1; i <= RUNS; i++) {
  say(`run ${i} of ${RUNS}`);
  const dir = await copy();
  a.push(await native(dir));
  await $({ cwd: dir, quiet: true })`rm -rf node_modules dist Dockerfile.bench`;
  await coldEngine();
  b.push(await pipeline(dir, "pipeline cold"));
  c.push(await pipeline(dir, "pipeline warm, no change"));
  appendFileSync(join(dir, "src/notes.ts"), `\nexport const benchEdit${i} = ${i};\n`);
  await $({ cwd: dir, quiet: true })`git -c user.name=bench -c user.email=bench@localhost commit -qam edit`;
  d.push(await pipeline(dir, "pipeline after a one-file change"));
}

const [ma, mb, mc, md] = [a, b, c, d].map(median);
const cpu = cpus()[0]?.model ?? "unknown CPU";
const machine = `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${execFileSync("sh", ["-c", ". /etc/os-release && echo $PRETTY_NAME"]).toString().trim()}`;
const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(", ");
const ratio = (x: number, target: number) => `${(x / ma).toFixed(2)} (target ≤ ${target}: ${x / ma <= target ? "met" : "not met"})`;
const table = [
  "| measure | median | runs (s) | ratio to native |",
  "| --- | ---: | --- | --- |",
  `| (a) native: npm ci, lint, typecheck, unit tests, docker build | ${ma.toFixed(1)} s | ${fmt(a)} | 1.00 |`,
  `| (b) pipeline cold (engine cache emptied, mirror warm) | ${mb.toFixed(1)} s | ${fmt(b)} | b/a = ${ratio(mb, 1.5)} |`,
  `| (c) pipeline warm, no change | ${mc.toFixed(1)} s | ${fmt(c)} | c/a = ${ratio(mc, 0.1)} |`,
  `| (d) pipeline warm, one source file changed | ${md.toFixed(1)} s | ${fmt(d)} | d/a = ${ratio(md, 0.5)} |`,
].join("\n");
process.stdout.write(`\n${date} on ${machine}; Dagger ${DAGGER_VERSION}; ${RUNS} run(s) each, medians\n\n${table}\n`);
writeFileSync(values.out!, `# Benchmarks

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
`);
say(`wrote ${values.out}`);
