/**
 * `slipway pipeline`: the whole DAG of ci/src/dag.ts on a source (default: the bundled example), independent
 * stages in parallel, gates stopping what comes after them, and a run report: Markdown (for a CI summary), JSON
 * and merged JUnit in the reports directory, a table on stdout. Also what `slipway release` runs (a subset).
 */
import { connection, dag, type Directory, type Secret } from "@dagger.io/dagger";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Commit } from "../../modules/image/src/index.ts";
import { EXCLUDE } from "../../modules/node/src/index.ts";
import { parseScanner, Scan, type Scanner } from "../../modules/scan/src/index.ts";
import { Sign } from "../../modules/sign/src/index.ts";
import { useEngine } from "../platform/connection.ts";
import { missingImageHint } from "../platform/images/import.ts";
import { HEARTBEAT_SECONDS } from "../platform/steps.ts";
import { stageTools, waitForTools } from "../platform/tools.ts";
import { paths } from "../platform/host.ts";
import { commitOf } from "./git.ts";
import { localRepository, pushCredentials } from "./publish.ts";
import { mirrorService, runNodeStage, type StageName } from "./stages.ts";
import { deployTo, ensureLocalTargets, loopback, smokeOf } from "./deployments.ts";
import { clientObject, deps } from "../src/deps.ts";
import { normalSource } from "../../modules/sign/src/policy.ts";
import { parseChecks } from "../../modules/smoke/src/index.ts";
import { trustKey } from "./trust.ts";
import { dirtyRefusal, outcome, requireOutput, type StageContext, type StageOutput, stageRunners } from "../src/stages.ts";
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
import {
  DEFAULT_PREVIEWS,
  forPreview,
  isPreviewRun,
  MAIN_ONLY,
  type Pipeline,
  PREVIEW_ONLY,
  resolveStages,
  scanThreshold,
  ttlSeconds,
} from "../src/api.ts";
import { ensurePreview, removeExpired } from "./previews.ts";
import { customRunner } from "./custom-stages.ts";
import { branchOf } from "./git.ts";

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
export async function vulnDatabase(path: string, scanner: Scanner): Promise<Directory> {
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
    const key = await requireOutput(ctx.publicKey, "the public key").contents();
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
    const out = await outcome(clientObject(smokeOf(ctx.source, env)), `smoke-${name}`);
    // this digest passed this environment's smoke checks: attested, so that an environment requiring it can tell
    if (out.status === "passed" && ctx.published && ctx.key && ctx.password) {
      const checks = parseChecks(readFileSync(env.smokeChecks, "utf8"), env.smokeChecks).map((c) => c.name);
      const predicate = { environment: name, url: env.url, checks, result: "passed" };
      const file = dag
        .directory()
        .withNewFile("smoke.json", JSON.stringify(predicate, null, 2) + "\n")
        .file("smoke.json");
      const attested = await deps.sign().attest(ctx.published.ref, ctx.key, ctx.password, "smoke", file, {
        registry: loopback(`http://${ctx.published.ref.split("/")[0]}`),
        registryUsername: ctx.registryAuth?.username,
        registryPassword: ctx.registryAuth?.password,
      });
      out.message += attested.startsWith("already") ? "; already attested" : "; attested for this digest";
    }
    return exported(out, ctx.reports);
  };
  return {
    ...Object.fromEntries(Object.entries(engineSide).map(([stage, run]) => [stage, async () => exported(await run(), ctx.reports)])),
    "deploy-staging": deploy("staging"),
    "smoke-staging": smoke("staging"),
    "deploy-production": deploy("production"),
    "smoke-production": smoke("production"),
    // ctx.environments.preview is the branch's preview, set up before the run (runStages)
    "deploy-preview": deploy("preview"),
    "smoke-preview": smoke("preview"),
  };
}

/**
 * The approval before production: --approve, or a yes at the prompt on a terminal; otherwise the run waits there
 * (production and what follows it are skipped) and says how to go on.
 */
async function approval(approved: boolean | undefined, image: string | undefined): Promise<Omit<StageRun, "seconds">> {
  const result = (status: "passed" | "waiting", message: string) => ({
    stage: "approval",
    status,
    message: `approval: ${message}`,
    cached: null,
  });
  if (approved) return result("passed", "approved (--approve)");
  if (!process.stdin.isTTY || !process.stderr.isTTY)
    return result("waiting", "waiting for approval: rerun with --approve to deploy to production");
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`  deploy ${image ?? "the image"} to production? [y/N] `);
    return /^y(es)?$/i.test(answer.trim())
      ? result("passed", "approved at the prompt")
      : result("waiting", "not approved at the prompt: rerun with --approve to deploy to production");
  } finally {
    rl.close();
  }
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

/** A project's default key directory: one per source repository (never one key for every project on the machine). */
export function projectKeyDir(project: string): string {
  const name = (project.replace(/\/+$/, "").split("/").pop() ?? "project").replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 40) || "project";
  return join(paths.cache, "keys", `${name}-${createHash("sha256").update(project).digest("hex").slice(0, 12)}`);
}

/** What a keys directory holds: the key pair and, for the default key, its password. */
const KEY_FILES = ["cosign.key", "cosign.pub", "password"];

/**
 * A directory for key material, mode 0700: made so, or an existing one set so (keys directories made before were
 * 0755). A directory that holds anything besides keys and is open to others is refused, not changed: --out may
 * name a project or /tmp. `what`: how the user named it (e.g. "--out").
 */
export function keyDir(dir: string, what: string): string {
  if (existsSync(dir)) {
    const others = readdirSync(dir).filter((f) => !KEY_FILES.includes(f));
    if (others.length && statSync(dir).mode & 0o077)
      throw new Error(
        `${what} ${dir} holds other files (${others[0]}${others.length > 1 ? ", ..." : ""}) and is open to other users: pass a directory for the keys alone (slipway makes it mode 700)`,
      );
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

/** A private key (or its password) readable by its owner alone; a public key readable by all. */
export function keyFileModes(dir: string): void {
  for (const f of KEY_FILES) {
    const path = join(dir, f);
    if (existsSync(path)) chmodSync(path, f.endsWith(".pub") ? 0o644 : 0o600);
  }
}

/**
 * The signing key: --key FILE with --password-env VAR, or the machine's default key pair in
 * /var/cache/slipway/keys (made on first use, password beside it; the directory 0700, key and password 0600,
 * modes fixed on every use), so the pipeline runs with no setup.
 */
async function signingKey(
  keyPath: string | undefined,
  passwordEnv: string | undefined,
  project: string,
  say: (line: string) => void,
): Promise<{ key: Secret; password: Secret; note: string }> {
  let password: string;
  if (keyPath) {
    password = keyPassword(keyPath, passwordEnv);
  } else {
    keyDir(join(paths.cache, "keys"), "the default keys directory");
    const dir = keyDir(projectKeyDir(project), "the project's keys directory");
    keyPath = join(dir, "cosign.key");
    const pwFile = join(dir, "password");
    if (!existsSync(pwFile)) writeFileSync(pwFile, randomBytes(24).toString("base64url"), { mode: 0o600 });
    password = readFileSync(pwFile, "utf8");
    if (!existsSync(keyPath)) {
      const ctr = await new Sign().generateKeyPair(dag.setSecret("default-key-password", password));
      await ctr.file("/keys/cosign.key").export(keyPath);
      await ctr.file("/keys/cosign.pub").export(join(dir, "cosign.pub"));
      // a key made here, for this project, is trusted by this machine's own targets for this project's source
      const { LOCAL_TARGETS } = await import("../platform/targets.ts");
      const pub = readFileSync(join(dir, "cosign.pub"), "utf8");
      for (const env of Object.keys(LOCAL_TARGETS)) trustKey(env, pub, [project], `${project}'s default key on this machine`);
      say(
        `made ${project}'s signing key in ${dir}; the local targets (${Object.keys(LOCAL_TARGETS).join(", ")}) trust it for this source (slipway trust list)`,
      );
    }
    keyFileModes(dir);
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
  /** sign a source with uncommitted changes (refused without it when sign is among the stages) */
  allowDirty?: boolean;
  scanner: Scanner;
  vulnDb?: string;
  /** the scan's threshold; unset: the config's for this branch, else high */
  failOn?: string;
  allowlist?: string;
  /** the project's lint / typecheck script by name; unset: found by name */
  lintScript?: string;
  typecheckScript?: string;
  /** the team's own pipeline (slipway.config.ts); unset: the golden path */
  pipeline?: Pipeline;
  /** production may deploy without asking (the approval stage passes) */
  approve?: boolean;
  /** how long a preview deployed by this run lives (default: the config's previews.ttl, 72h) */
  previewTtl?: string;
}

/** Runs the selected stages in one engine session; prints each stage's line as it finishes. */
export async function runStages(
  o: DagOptions,
  print: (r: StageRun) => void,
): Promise<{ runs: StageRun[]; commit?: Commit; image?: string; preview?: RunReport["preview"] }> {
  const runStart = Date.now();
  const branch = await branchOf(o.source);
  // a branch other than main deploys to its own preview, in staging's and production's place
  const previews = o.pipeline?.previews ?? DEFAULT_PREVIEWS;
  const previewRun = isPreviewRun(previews, branch);
  const ttl = ttlSeconds(o.previewTtl ?? previews.ttl, o.previewTtl ? "--preview-ttl" : "previews.ttl");
  const declared = o.pipeline && previewRun ? forPreview(o.pipeline.stages) : o.pipeline?.stages;
  const stages = declared ? resolveStages(declared) : PIPELINE;
  const chosen = select(stages, o.until, o.skip, o.only);
  /** stages this run skips for its branch, with the reason */
  const offRun = new Map<string, string>();
  for (const s of previewRun ? MAIN_ONLY : PREVIEW_ONLY) {
    const why = previewRun
      ? `branch ${branch} deploys to its preview; staging and production deploy from ${previews.main.join(", ")}`
      : !previews.enabled
        ? "previews are off in slipway.config.ts"
        : `${branch ? `branch ${branch}` : "a run on no branch"} deploys to staging and production; previews are for other branches`;
    offRun.set(s, `${s}: skipped (${why})`);
  }
  // expired previews go at the next run, whatever it runs
  for (const line of await removeExpired()) process.stdout.write(`  ${line}\n`);
  // the config's scan threshold for this branch, unless --fail-on named one
  const failOn = o.failOn ?? (o.pipeline ? scanThreshold(o.pipeline, branch, "high") : "high");
  if (o.key) keyPassword(o.key, o.passwordEnv); // bad key options fail now, not when sign comes
  const commit = await commitOf(o.source);
  // a dirty tree is refused before anything runs: its image would be signed as a commit that does not hold it
  if (chosen.has("sign") && commit?.dirty && !o.allowDirty) throw new Error(dirtyRefusal(commit.changes));
  await useEngine({ quiet: true, check: false });
  let runs: StageRun[] = [];
  let image: string | undefined;
  let preview: RunReport["preview"];
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
    const repository = o.repository ?? localRepository(o.source);
    // the project: its repository as the provenance names it (file://<dir> when it has no commit or remote)
    const project = normalSource(commit?.source ?? `file://${resolve(o.source)}`);
    const ctx: RunContext = {
      source: o.source,
      reports: o.reports,
      dir: dag.host().directory(o.source, { exclude: EXCLUDE }),
      commit,
      repository,
      allowNoCommit: o.allowNoCommit,
      allowDirty: o.allowDirty,
      scanner: o.scanner,
      vulnDb: chosen.has("scan") && o.vulnDb ? await vulnDatabase(resolve(o.vulnDb), o.scanner) : undefined,
      failOn,
      started: new Date().toISOString(),
      environments: {},
      publicKey: o.publicKey ? dag.host().file(resolve(o.publicKey)) : undefined,
      allowlist: o.allowlist ? dag.host().file(resolve(o.allowlist)) : undefined,
      registryMirror: mirrorService(undefined),
      lintScript: o.lintScript,
      typecheckScript: o.typecheckScript,
      registry: (host) => loopback(`http://${host}`),
      // pushes (build, sign) need the registry's credentials; only those stages ask for them
      registryAuth:
        repository && [...chosen].some((s) => s === "build" || s === "sign" || s.startsWith("smoke-"))
          ? pushCredentials(repository)
          : undefined,
      sourceUrl: `file://${resolve(o.source)}`,
      // the engine that builds: its own version, as it reports it (what the root module writes too)
      builder: `https://slipway.dev/builder/dagger@${await dag.version()}`,
    };
    if (o.allowlist && !existsSync(o.allowlist)) throw new Error(`--allowlist ${o.allowlist} does not exist: check the path`);
    const runners: Record<string, () => Promise<Omit<StageRun, "seconds">>> = {
      ...hostStageRunners(ctx),
      approval: () => approval(o.approve, ctx.published?.ref),
    };
    if (previewRun && chosen.has("deploy-preview")) {
      const staging = (ctx.environments.staging ??= loadEnvironment(o.source, "staging"));
      await ensureLocalTargets(staging);
      const made = await ensurePreview(staging, branch, ttl);
      ctx.environments.preview = made.env;
      const deployPreview = runners["deploy-preview"];
      runners["deploy-preview"] = async () => {
        const r = await deployPreview();
        if (r.status === "passed") preview = { branch, url: made.preview.url, expires: made.preview.expires };
        return { ...r, message: `${r.message}; preview of ${branch} at ${made.preview.url}, until ${made.preview.expires}` };
      };
    }
    for (const st of declared ?? [])
      if (st.run) runners[st.name] = customRunner(st, ctx, branch, waiting, previewRun && st.previews ? "preview" : undefined);
    runs = await runDag(
      stages,
      chosen,
      async (stage) => {
        const off = offRun.get(stage);
        if (off) return { stage, status: "skipped", message: off, seconds: 0, cached: null };
        await waitForTools(stageTools(stage, { scanner: o.scanner, vulnDb: o.vulnDb ? resolve(o.vulnDb) : undefined }), waiting);
        // the key is read when a stage signs or attests: sign, verify and the smoke stages (a passed smoke is attested)
        if (stage === "sign" || stage === "verify" || stage.startsWith("smoke-"))
          Object.assign(ctx, await (key ??= signingKey(o.key, o.passwordEnv, project, waiting)));
        const t0 = Date.now();
        active.set(stage, t0);
        try {
          const r = await runners[stage]();
          return { ...r, seconds: (Date.now() - t0) / 1000, startedAt: (t0 - runStart) / 1000 };
        } catch (err) {
          // a base image or service the offline mirror lacks: what it serves and how to bring one in
          const hint = err instanceof Error ? missingImageHint(err.message) : undefined;
          throw hint ? new Error(`${err instanceof Error ? err.message : String(err)}: ${hint}`, { cause: err }) : err;
        } finally {
          active.delete(stage);
        }
      },
      done,
    );
    image = ctx.published?.ref;
  });
  clearInterval(heartbeat);
  return { runs, commit, image, preview };
}

/**
 * --affected-since REF in a workspace: lint, typecheck and test for each package changed since REF and each
 * package depending on one, in parallel; the others reported as not affected.
 */
async function runAffected(
  source: string,
  reports: string,
  since: string,
  print: (r: StageRun) => void,
  scripts: { lintScript?: string; typecheckScript?: string } = {},
) {
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
            clientObject(() => runNodeStage(stage, dir, { workspace, ...scripts })),
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
                        [--fail-on SEVERITY] [--allowlist FILE] [--repository REGISTRY/PATH] [--allow-dirty] [--approve]
                        [--preview-ttl TTL]
       slipway pipeline --source WORKSPACE --affected-since GIT_REF [--reports DIR]

Runs every stage on the source (default: the current directory; \`npm run pipeline\` passes examples/node-api), independent ones in parallel; a failing stage
stops everything after it. Reports: <reports>/pipeline.md (for a CI summary), pipeline.json, junit.xml (merged),
and each stage's own under <reports>/<stage>/. With no --key, signs with the machine's default key pair
(${join(paths.cache, "keys")}); with no --vuln-db, scans against $SLIPWAY_VULN_DB or the bundled advisories.
A source with uncommitted changes is not signed: commit them, or pass --allow-dirty (the provenance then says so).
--lint-script NAME, --typecheck-script NAME: the project's script for lint / typecheck (default: found by name).
Production waits for approval: a prompt on a terminal, --approve in scripts; otherwise the run stops before it
(exit 3, "waiting for approval"). On a branch other than main (or master) the run deploys to the branch's own
preview instead of staging and production (deploy-preview, smoke-preview: its URL in the report); a preview lives
--preview-ttl (default 72h) after its last deploy and the next run after that removes it (\`slipway preview\`).
A slipway.config.ts at the source's root (export default definePipeline(...),
imported from "slipway") adds, removes and reorders stages; it is type-checked and checked whole before anything
runs (docs/pipeline.md).
--affected-since: in an npm/yarn/pnpm workspace, lint, typecheck and test only the packages changed since GIT_REF and
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
      "fail-on": { type: "string" },
      approve: { type: "boolean", default: false },
      allowlist: { type: "string" },
      "allow-no-commit": { type: "boolean", default: false },
      "allow-dirty": { type: "boolean", default: false },
      "affected-since": { type: "string" },
      "lint-script": { type: "string" },
      "typecheck-script": { type: "string" },
      "preview-ttl": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return (void process.stdout.write(PIPELINE_HELP), 0);
  const source = resolve(values.source!);
  if (!existsSync(source)) throw new Error(`--source ${values.source} does not exist: pass the project directory`);
  const started = new Date();
  const reports = resolve(values.reports!);
  process.stdout.write(`pipeline on ${source}\n`);
  // the team's own pipeline, checked whole (types, names, cycles) before anything runs
  const pipeline = values["affected-since"] ? undefined : await (await import("./config.ts")).loadPipeline(source);
  const line = (r: StageRun) => {
    process.stdout.write(`  ${r.stage.padEnd(22)} ${r.status.padEnd(14)} ${r.seconds.toFixed(1).padStart(6)}s  ${r.message}\n`);
    if (process.env.GITHUB_ACTIONS === "true") for (const a of annotations(r)) process.stdout.write(`${a}\n`);
  };
  if (values["affected-since"]) {
    const { runs, affected } = await runAffected(source, reports, values["affected-since"], line, {
      lintScript: values["lint-script"],
      typecheckScript: values["typecheck-script"],
    });
    const rep = { ...report({ source, revision: (await commitOf(source))?.revision ?? "", started, runs }), affected };
    return writeReport(rep, runs, reports);
  }
  const { runs, commit, image, preview } = await runStages(
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
      allowDirty: values["allow-dirty"]!,
      scanner: parseScanner(values.scanner!, "--scanner"),
      vulnDb: values["vuln-db"] ?? process.env.SLIPWAY_VULN_DB ?? BUNDLED_ADVISORIES,
      failOn: values["fail-on"],
      allowlist: values.allowlist,
      lintScript: values["lint-script"],
      typecheckScript: values["typecheck-script"],
      pipeline,
      approve: values.approve,
      previewTtl: values["preview-ttl"],
    },
    line,
  );
  return writeReport(report({ source, revision: commit?.revision ?? "", started, runs, image, preview }), runs, reports);
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
  if (process.env.GITHUB_OUTPUT && rep.preview) appendFileSync(process.env.GITHUB_OUTPUT, `preview-url=${rep.preview.url}\n`);
  const end =
    rep.status === "passed"
      ? "passed"
      : rep.status === "waiting"
        ? `stopped at ${rep.waiting!.stage}: ${rep.waiting!.message}`
        : `failed at ${rep.failure!.stage}: ${rep.failure!.message}`;
  process.stdout.write(`\n${md}\n${end} in ${rep.seconds.toFixed(1)}s; reports in ${reports}\n`);
  // 3: nothing failed, but the run stopped for a decision (the approval before production)
  return rep.status === "passed" ? 0 : rep.status === "waiting" ? 3 : 1;
}
