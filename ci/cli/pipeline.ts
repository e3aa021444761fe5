/**
 * `slipway pipeline`: the whole DAG of ci/src/dag.ts on a source (default: the bundled example), independent
 * stages in parallel, gates stopping what comes after them, and a run report: Markdown (for a CI summary), JSON
 * and merged JUnit in the reports directory, a table on stdout. Also what `slipway release` runs (a subset).
 */
import { connection, dag, type Directory, type Secret } from "@dagger.io/dagger";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Commit } from "../../modules/image/src/index.ts";
import { EXCLUDE } from "../../modules/node/src/index.ts";
import { parseScanner, Scan, type Scanner } from "../../modules/scan/src/index.ts";
import { Sign } from "../../modules/sign/src/index.ts";
import { DAGGER_VERSION } from "../platform/versions.ts";
import { useEngine } from "../platform/connection.ts";
import { HEARTBEAT_SECONDS } from "../platform/steps.ts";
import { stageTools, waitForTools } from "../platform/tools.ts";
import { ensureDir, paths } from "../platform/host.ts";
import { commitOf } from "./git.ts";
import { localRepository } from "./publish.ts";
import { mirrorService, runNodeStage, type StageName } from "./stages.ts";
import { deployTo, loopback, smokeOf } from "./deployments.ts";
import { clientObject } from "../src/deps.ts";
import { outcome, requireOutput, type StageContext, type StageOutput, stageRunners } from "../src/stages.ts";
import {
  annotations,
  markdown,
  mergedJunit,
  PIPELINE,
  report,
  type RunReport,
  runDag,
  select,
  type StageDef,
  type StageRun,
  stillRunning,
} from "../src/dag.ts";
import { type Environment, loadEnvironment } from "./environments.ts";

/** The offline default: the bundled advisory set (one real advisory); SLIPWAY_VULN_DB names a real database. */
export const BUNDLED_ADVISORIES = join(import.meta.dirname, "../test/fixtures/osv");

/** What a run's stages share: the engine-side context, and what only the host has (reports, environments). */
export interface RunContext extends StageContext {
  source: string;
  reports: string;
  environments: Record<string, Environment>;
}

/**
 * --vuln-db DIR: a database as the scanner stores one (Trivy: db/trivy.db; OSV-Scanner:
 * osv-scalibr/<ecosystem>/all.zip), or a directory of OSV advisories per ecosystem (npm/GHSA-....json), which
 * Scan.database builds one from with the scanner's own tooling.
 */
export function vulnDatabase(path: string, scanner: Scanner): Directory {
  if (!existsSync(path))
    throw new Error(`--vuln-db ${path} does not exist: pass a ${scanner} database or a directory of OSV advisories per ecosystem`);
  const dir = dag.host().directory(path);
  const built = scanner === "trivy" ? existsSync(join(path, "db", "trivy.db")) : existsSync(join(path, "osv-scalibr"));
  return built ? dir : new Scan().database(dir, scanner);
}

/** A stage's report files written under the reports directory on the host; its report line returned. */
async function exported(out: StageOutput, root: string): Promise<Omit<StageRun, "seconds">> {
  const { reports, ...line } = out;
  for (const [dir, files] of Object.entries(reports)) {
    mkdirSync(resolve(root, dir), { recursive: true });
    await files.export(resolve(root, dir));
  }
  return line;
}

/** The stages: lint to verify as ci/src/stages.ts runs them for both ways in, deploy and smoke from the host. */
export function hostStageRunners(ctx: RunContext): Record<string, () => Promise<Omit<StageRun, "seconds">>> {
  const engineSide = stageRunners(ctx);
  const environment = (name: string) => (ctx.environments[name] ??= loadEnvironment(ctx.source, name));
  const deploy = (name: string) => async () => {
    const key = requireOutput(ctx.publicKey, "the public key");
    const image = requireOutput(ctx.published, "the image").ref;
    const r = clientObject(() => deployTo(environment(name), image, key, ctx.commit?.revision ?? ""));
    return exported(await outcome(r, `deploy-${name}`), ctx.reports);
  };
  const smoke = (name: string) => async () => {
    const env = environment(name);
    if (!env.url)
      return {
        stage: `smoke-${name}`,
        status: "not-configured" as const,
        message: `smoke-${name}: not configured (no SLIPWAY_URL in .env.${name})`,
        cached: null,
      };
    return exported(await outcome(clientObject(smokeOf(ctx.source, env)), `smoke-${name}`), ctx.reports);
  };
  return {
    ...Object.fromEntries(Object.entries(engineSide).map(([stage, run]) => [stage, async () => exported(await run(), ctx.reports)])),
    "deploy-staging": deploy("staging"),
    "smoke-staging": smoke("staging"),
    "deploy-production": deploy("production"),
    "smoke-production": smoke("production"),
  };
}

/** --key FILE's password from --password-env VAR, or the error naming what is missing (checked before anything runs). */
function keyPassword(keyPath: string, passwordEnv: string | undefined): string {
  if (!existsSync(keyPath))
    throw new Error(`--key ${keyPath} does not exist: make a key pair with \`slipway keys --out DIR --password-env VAR\``);
  if (!passwordEnv) throw new Error("--password-env VAR is required with --key: the environment variable holding the key's password");
  const password = process.env[passwordEnv] ?? "";
  if (!password) throw new Error(`--password-env ${passwordEnv}: that environment variable is not set or empty: export it`);
  return password;
}

/**
 * The signing key: --key FILE with --password-env VAR, or the machine's default key pair in
 * /var/cache/slipway/keys (made on first use, password beside it, root only), so the pipeline runs with no setup.
 */
async function signingKey(
  keyPath: string | undefined,
  passwordEnv: string | undefined,
): Promise<{ key: Secret; password: Secret; note: string }> {
  let password: string;
  if (keyPath) {
    password = keyPassword(keyPath, passwordEnv);
  } else {
    const dir = ensureDir(join(paths.cache, "keys"));
    keyPath = join(dir, "cosign.key");
    const pwFile = join(dir, "password");
    if (!existsSync(pwFile)) writeFileSync(pwFile, randomBytes(24).toString("base64url"), { mode: 0o600 });
    password = readFileSync(pwFile, "utf8");
    if (!existsSync(keyPath)) {
      const ctr = new Sign().generateKeyPair(dag.setSecret("default-key-password", password));
      await ctr.file("/keys/cosign.key").export(keyPath);
      await ctr.file("/keys/cosign.pub").export(join(dir, "cosign.pub"));
    }
  }
  const keyText = readFileSync(keyPath, "utf8");
  const id = createHash("sha256").update(keyText).digest("hex").slice(0, 16);
  return { key: dag.setSecret(`cosign-key-${id}`, keyText), password: dag.setSecret(`cosign-password-${id}`, password), note: keyPath };
}

export interface DagOptions {
  source: string;
  reports: string;
  until?: string;
  skip: string[];
  only?: string[];
  key?: string;
  passwordEnv?: string;
  publicKey?: string;
  repository?: string;
  allowNoCommit: boolean;
  scanner: Scanner;
  vulnDb?: string;
  failOn: string;
  allowlist?: string;
}

/** Runs the selected stages in one engine session; prints each stage's line as it finishes. */
export async function runStages(
  o: DagOptions,
  print: (r: StageRun) => void,
): Promise<{ runs: StageRun[]; commit?: Commit; image?: string }> {
  const chosen = select(PIPELINE, o.until, o.skip, o.only);
  if (o.key) keyPassword(o.key, o.passwordEnv); // bad key options fail now, not when sign comes
  await useEngine({ quiet: true, check: false });
  let runs: StageRun[] = [];
  let image: string | undefined;
  const commit = await commitOf(o.source);
  // a line at least every HEARTBEAT_SECONDS: a stage's result, a tool being waited for, or what is still running
  const active = new Map<string, number>();
  let said = Date.now();
  const waiting = (line: string) => {
    said = Date.now();
    process.stderr.write(`  ${line}\n`);
  };
  const heartbeat = setInterval(() => {
    if (active.size && Date.now() - said >= HEARTBEAT_SECONDS * 1000 - 500) waiting(stillRunning(active, Date.now()));
  }, 1000);
  heartbeat.unref();
  const done = (r: StageRun) => {
    said = Date.now();
    print(r);
  };
  await connection(async () => {
    // the key is read (or, the first time, made with cosign) when a stage needs it: the code stages need no tool
    let key: Promise<{ key: Secret; password: Secret }> | undefined;
    const ctx: RunContext = {
      source: o.source,
      reports: o.reports,
      dir: dag.host().directory(o.source, { exclude: EXCLUDE }),
      commit,
      repository: o.repository ?? localRepository(o.source),
      allowNoCommit: o.allowNoCommit,
      scanner: o.scanner,
      vulnDb: chosen.has("scan") && o.vulnDb ? vulnDatabase(resolve(o.vulnDb), o.scanner) : undefined,
      failOn: o.failOn,
      started: new Date().toISOString(),
      environments: {},
      publicKey: o.publicKey ? dag.host().file(resolve(o.publicKey)) : undefined,
      allowlist: o.allowlist ? dag.host().file(resolve(o.allowlist)) : undefined,
      registryMirror: mirrorService(undefined),
      registry: (host) => loopback(`http://${host}`),
      builder: `https://slipway.dev/builder/dagger@${DAGGER_VERSION}`,
    };
    if (o.allowlist && !existsSync(o.allowlist)) throw new Error(`--allowlist ${o.allowlist} does not exist: check the path`);
    const runners = hostStageRunners(ctx);
    runs = await runDag(
      PIPELINE,
      chosen,
      async (stage) => {
        await waitForTools(stageTools(stage, { scanner: o.scanner, vulnDb: o.vulnDb ? resolve(o.vulnDb) : undefined }), waiting);
        if (stage === "sign" || stage === "verify") Object.assign(ctx, await (key ??= signingKey(o.key, o.passwordEnv)));
        const t0 = Date.now();
        active.set(stage, t0);
        try {
          const r = await runners[stage]();
          return { ...r, seconds: (Date.now() - t0) / 1000 };
        } finally {
          active.delete(stage);
        }
      },
      done,
    );
    image = ctx.published?.ref;
  });
  clearInterval(heartbeat);
  return { runs, commit, image };
}

/**
 * --affected-since REF in a workspace: lint, typecheck and test for each package changed since REF and each
 * package depending on one, in parallel; the others reported as not affected.
 */
async function runAffected(source: string, reports: string, since: string, print: (r: StageRun) => void) {
  const { affectedPackages, changedSince, workspacePackages } = await import("./affected.ts");
  const packages = workspacePackages(source);
  const changed = await changedSince(source, since);
  const affected = affectedPackages(packages, changed);
  const stages: StageDef[] = packages.flatMap((p) =>
    (["lint", "typecheck", "test"] as const).map((st) => ({ name: `${st}:${p.dir}`, needs: [], after: [], about: "" })),
  );
  const chosen = new Set(stages.filter((s) => affected.has(s.name.split(":")[1])).map((s) => s.name));
  await useEngine({ quiet: true, check: false });
  let runs: StageRun[] = [];
  await connection(async () => {
    const dir = dag.host().directory(source, { exclude: EXCLUDE });
    runs = await runDag(
      stages,
      chosen,
      async (name) => {
        const [stage, workspace] = name.split(":") as [StageName, string];
        const t0 = Date.now();
        const line = await exported(
          await outcome(
            clientObject(() => runNodeStage(stage, dir, { workspace })),
            stage,
            join(workspace, stage),
          ),
          reports,
        );
        return { ...line, stage: name, message: `${workspace}: ${line.message}`, seconds: (Date.now() - t0) / 1000 };
      },
      print,
    );
  });
  for (const r of runs) {
    if (r.status === "skipped") r.message = `${r.stage}: skipped (not affected since ${since})`;
  }
  return { runs, affected: { since, changed, packages: Object.fromEntries(affected) } };
}

export const PIPELINE_HELP = `Usage: slipway pipeline [--source DIR] [--reports DIR] [--until STAGE] [--skip STAGE[,STAGE]] [--only STAGE[,STAGE]]
                        [--key FILE --password-env VAR] [--scanner trivy|osv-scanner] [--vuln-db DIR]
                        [--fail-on SEVERITY] [--allowlist FILE] [--repository REGISTRY/PATH]
       slipway pipeline --source WORKSPACE --affected-since GIT_REF [--reports DIR]

Runs every stage on the source (default: the current directory; \`npm run pipeline\` passes examples/node-api), independent ones in parallel; a failing stage
stops everything after it. Reports: <reports>/pipeline.md (for a CI summary), pipeline.json, junit.xml (merged),
and each stage's own under <reports>/<stage>/. With no --key, signs with the machine's default key pair
(${join(paths.cache, "keys")}); with no --vuln-db, scans against $SLIPWAY_VULN_DB or the bundled advisories.
--affected-since: in an npm/yarn workspace, lint, typecheck and test only the packages changed since GIT_REF and
the packages depending on them.

Stages:
${PIPELINE.map((s) => `  ${s.name.padEnd(18)} ${s.about}${s.needs.length + s.after.length ? ` (after ${[...s.needs, ...s.after].join(", ")})` : ""}`).join("\n")}
`;

export async function runPipeline(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      source: { type: "string", default: "." },
      reports: { type: "string", default: "reports" },
      until: { type: "string" },
      skip: { type: "string", multiple: true, default: [] },
      only: { type: "string", multiple: true, default: [] },
      key: { type: "string" },
      "password-env": { type: "string" },
      repository: { type: "string" },
      scanner: { type: "string", default: "trivy" },
      "vuln-db": { type: "string" },
      "fail-on": { type: "string", default: "high" },
      allowlist: { type: "string" },
      "allow-no-commit": { type: "boolean", default: false },
      "affected-since": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return (void process.stdout.write(PIPELINE_HELP), 0);
  const source = resolve(values.source!);
  if (!existsSync(source)) throw new Error(`--source ${values.source} does not exist: pass the project directory`);
  const started = new Date();
  const reports = resolve(values.reports!);
  process.stdout.write(`pipeline on ${source}\n`);
  const line = (r: StageRun) => {
    process.stdout.write(`  ${r.stage.padEnd(22)} ${r.status.padEnd(14)} ${r.seconds.toFixed(1).padStart(6)}s  ${r.message}\n`);
    if (process.env.GITHUB_ACTIONS === "true") for (const a of annotations(r)) process.stdout.write(`${a}\n`);
  };
  if (values["affected-since"]) {
    const { runs, affected } = await runAffected(source, reports, values["affected-since"], line);
    const rep = { ...report(source, (await commitOf(source))?.revision ?? "", started, runs), affected };
    return writeReport(rep, runs, reports);
  }
  const { runs, commit, image } = await runStages(
    {
      source,
      reports,
      until: values.until,
      skip: values.skip!.flatMap((s) => s.split(",")).filter(Boolean),
      only: values.only!.flatMap((s) => s.split(",")).filter(Boolean),
      key: values.key,
      passwordEnv: values["password-env"],
      repository: values.repository,
      allowNoCommit: values["allow-no-commit"]!,
      scanner: parseScanner(values.scanner!, "--scanner"),
      vulnDb: values["vuln-db"] ?? process.env.SLIPWAY_VULN_DB ?? BUNDLED_ADVISORIES,
      failOn: values["fail-on"]!,
      allowlist: values.allowlist,
    },
    line,
  );
  return writeReport(report(source, commit?.revision ?? "", started, runs, image), runs, reports);
}

/** The run report into the reports directory (and a GitHub job's summary and outputs), its table on stdout. */
function writeReport(rep: RunReport, runs: StageRun[], reports: string): number {
  const image = rep.image;
  mkdirSync(reports, { recursive: true });
  const md = markdown(rep);
  writeFileSync(join(reports, "pipeline.md"), md);
  writeFileSync(join(reports, "pipeline.json"), JSON.stringify(rep, null, 2) + "\n");
  writeFileSync(join(reports, "junit.xml"), mergedJunit(runs));
  if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, md);
  if (process.env.GITHUB_OUTPUT && image) appendFileSync(process.env.GITHUB_OUTPUT, `image=${image}\n`);
  process.stdout.write(
    `\n${md}\n${rep.status === "passed" ? "passed" : `failed at ${rep.failure!.stage}: ${rep.failure!.message}`} in ${rep.seconds.toFixed(1)}s; reports in ${reports}\n`,
  );
  return rep.status === "passed" ? 0 : 1;
}
