/**
 * The supply-chain tool images (cosign, syft, gitleaks, OSV-Scanner, Trivy, trivy-db, actionlint, and any Go tool
 * added to the catalog): what the code stages do not need. Commands that bring the engine up for a run
 * (`useEngine`) build them after the engine is ready, in a detached background builder (`slipway engine tools`,
 * log in logs/tools.log); a stage that needs one waits for it with `waitForTools`. `slipway engine up` still
 * builds them in the foreground, holding the same lock, so only one builder ever works on them.
 *
 * Files (under SLIPWAY_CACHE): tools-builder.lock (who builds: pid and process start time, so a dead or reused
 * pid is told apart), tools-builder.json (what it does: the tool it builds and since when, what it built, what
 * failed), tools-wanted/<tool> (a waiter's request: the builder takes wanted tools first).
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { setPriority } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { dockerStep } from "./docker.ts";
import { EXTERNAL_MIRROR } from "./engine.ts";
import { ensureDir, paths } from "./host.ts";
import { buildImage, type ImageRecipe, imageReady } from "./images/build.ts";
import { catalog } from "./images/catalog.ts";
import { registryStep } from "./registry.ts";
import { HEARTBEAT_SECONDS, runSteps, type Step, StepError } from "./steps.ts";
import { GO_TOOLS } from "./versions.ts";

export interface ToolImage {
  /** The tool's name: its GO_TOOLS key ("trivy", "osv-scanner"). */
  name: string;
  recipe: ImageRecipe;
}

/** A recipe that makes a tool image: one whose inputs carry the tool it packs (goToolImage's `tool`). */
export function isToolRecipe(recipe: ImageRecipe): boolean {
  return typeof recipe.inputs?.tool === "string";
}

/** The GO_TOOLS key whose image the recipe makes, else the last path segment of its repository. */
export function toolName(recipe: ImageRecipe): string {
  const known = Object.entries(GO_TOOLS).find(([, spec]) => spec.image === recipe.refs[0]);
  return known
    ? known[0]
    : recipe.refs[0]
        .replace(/:[^/:]*$/, "")
        .split("/")
        .pop()!;
}

/** Every tool image of the catalog, in catalog order. */
export const TOOL_IMAGES: ToolImage[] = catalog.filter(isToolRecipe).map((recipe) => ({ name: toolName(recipe), recipe }));
/** What the engine and the code stages need first: everything else in the catalog. */
export const CORE_RECIPES: ImageRecipe[] = catalog.filter((r) => !isToolRecipe(r));
/** The tool images Slipway builds here (a corporate mirror serves the upstream ones itself). */
const buildable = (): ToolImage[] => TOOL_IMAGES.filter((t) => !t.recipe.mirror || !EXTERNAL_MIRROR);

/**
 * The tool images each pipeline stage runs, for the defaults (scan: Trivy against the bundled advisories, which
 * trivy-db turns into a database). `stageTools` answers for other options. In the order the pipeline first
 * needs them, which is the order the builder takes them in.
 */
export const STAGE_TOOLS: Readonly<Record<string, readonly string[]>> = {
  build: ["regctl"], // Image.publish: reproducible timestamps and the push; right after the code stages
  secrets: ["gitleaks"],
  sbom: ["syft"],
  scan: ["trivy", "trivy-db"],
  sign: ["cosign"], // also the project's key pair, made when sign or verify first needs it
  verify: ["cosign"],
  "deploy-staging": ["cosign"],
  "deploy-production": ["cosign"],
  "deploy-preview": ["cosign"],
};

/**
 * The tool images a stage needs. scan: `scanner` trivy (default) or osv-scanner; with trivy and `vulnDb` (a host
 * directory, as --vuln-db) that is not a built Trivy database (no db/trivy.db), trivy-db too, which builds one
 * (see vulnDatabase in ci/cli/pipeline.ts and Scan.database); with no vulnDb, Trivy alone.
 */
export function stageTools(stage: string, opts: { scanner?: string; vulnDb?: string } = {}): string[] {
  const scan =
    opts.scanner === "osv-scanner"
      ? ["osv-scanner"]
      : opts.vulnDb === undefined || existsSync(join(opts.vulnDb, "db", "trivy.db"))
        ? ["trivy"]
        : ["trivy", "trivy-db"];
  const tools = stage === "scan" ? scan : (STAGE_TOOLS[stage] ?? []);
  return tools.filter((t) => TOOL_IMAGES.some((i) => i.name === t)); // only what the catalog makes
}

/** The order a builder takes missing tools in: what a waiter asked for first, then the pipeline's order, then the catalog's. */
export function nextTool(missing: readonly string[], wanted: readonly string[] = []): string | undefined {
  return toolOrder(missing, wanted)[0];
}

/** tools in the order a builder takes them (nextTool's). */
export function toolOrder(tools: readonly string[], wanted: readonly string[] = []): string[] {
  const pipelineOrder = [...new Set(Object.values(STAGE_TOOLS).flat())];
  const catalogOrder = TOOL_IMAGES.map((t) => t.name);
  const rank = (t: string) =>
    (wanted.includes(t) ? 0 : 1) * 1000 + (pipelineOrder.includes(t) ? pipelineOrder.indexOf(t) : 100 + catalogOrder.indexOf(t));
  return [...tools].sort((a, b) => rank(a) - rank(b));
}

// ---- the builder's lock and state ----------------------------------------------------------------------------

export const TOOLS_LOG = join(paths.logs, "tools.log");
const LOCK = join(paths.cache, "tools-builder.lock");
const STATE = join(paths.cache, "tools-builder.json");
const WANTED = join(paths.cache, "tools-wanted");

export interface BuilderState {
  pid: number;
  /** "background": `slipway engine tools` (detached or by hand); "foreground": `slipway engine up` */
  mode: "background" | "foreground";
  started: string;
  log: string;
  /** The tool being built, and since when (ISO time). */
  current?: { tool: string; since: string };
  built: string[];
  failed: { tool: string; problem: string; fix: string }[];
  /** Set when the run ended normally (a run that was killed never sets it). */
  finished?: string;
}

/** A process's start time in clock ticks since boot (/proc/PID/stat field 22), undefined when it is gone or a zombie. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from the 3rd (state) on
    return fields[0] === "Z" ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

interface LockInfo {
  pid: number;
  start: string;
}

/** The live process holding the builder lock, if any. */
export function builderPid(): number | undefined {
  const lock = readJson<LockInfo>(LOCK);
  return lock && processStart(lock.pid) === lock.start ? lock.pid : undefined;
}

/**
 * Takes the builder lock for `pid` (this process, or a builder just spawned, which then finds the lock its own);
 * false when another live process holds it. A dead holder's lock is taken over.
 */
function tryLock(pid = process.pid): boolean {
  ensureDir(paths.cache);
  const start = processStart(pid);
  if (start === undefined) return false;
  const mine = JSON.stringify({ pid, start } satisfies LockInfo);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(LOCK, "wx");
      writeSync(fd, mine);
      closeSync(fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const text = (() => {
      try {
        return readFileSync(LOCK, "utf8");
      } catch {
        return undefined; // removed meanwhile: try again
      }
    })();
    if (text === undefined) continue;
    const holder = (() => {
      try {
        return JSON.parse(text) as LockInfo;
      } catch {
        return undefined; // being written: try again shortly
      }
    })();
    if (!holder) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      continue;
    }
    if (processStart(holder.pid) === holder.start) return holder.pid === pid;
    // a dead holder: move its lock aside; if what was moved is not that lock (another process took over first), put it back
    const aside = `${LOCK}.stale-${process.pid}`;
    try {
      renameSync(LOCK, aside);
    } catch {
      continue;
    }
    if (readFileSync(aside, "utf8") !== text) {
      try {
        linkSync(aside, LOCK);
      } catch {
        // a third process locked meanwhile: its lock stands
      }
    }
    rmSync(aside, { force: true });
  }
  return false;
}

function unlock(): void {
  const lock = readJson<LockInfo>(LOCK);
  if (lock?.pid === process.pid) rmSync(LOCK, { force: true });
}

export function readBuilderState(): BuilderState | undefined {
  return readJson<BuilderState>(STATE);
}

function writeBuilderState(state: BuilderState): void {
  const tmp = `${STATE}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
  renameSync(tmp, STATE);
}

function want(tools: readonly string[]): void {
  ensureDir(WANTED);
  for (const t of tools) writeFileSync(join(WANTED, t), `${process.pid}\n`);
}

function wantedTools(): string[] {
  try {
    return readdirSync(WANTED);
  } catch {
    return [];
  }
}

function unwant(tool: string): void {
  rmSync(join(WANTED, tool), { force: true });
}

async function missingTools(tools: readonly ToolImage[]): Promise<ToolImage[]> {
  const ready = await Promise.all(tools.map((t) => imageReady(t.recipe)));
  return tools.filter((_, i) => !ready[i]);
}

// ---- messages (pure) ----------------------------------------------------------------------------------------

/** "12s", "6 min": how long, as a waiting line says it. */
export function ago(seconds: number): string {
  return seconds < 60 ? `${Math.max(0, Math.round(seconds))}s` : `${Math.floor(seconds / 60)} min`;
}

/**
 * A waiting line: `waiting for trivy (building, 6 min so far)` when the builder works on the (one) tool waited for,
 * otherwise what it does first. `now`, `waitedSince` and the builder's `since` in milliseconds.
 */
export function waitLine(
  tools: readonly string[],
  builder: { tool?: string; since?: number; foreground?: boolean } | undefined,
  now: number,
  waitedSince: number,
): string {
  const names = tools.join(", ");
  const who = builder?.foreground ? "`slipway engine up`" : "the tool builder";
  if (builder?.tool && tools.includes(builder.tool)) {
    const what = tools.length === 1 ? "building" : `building ${builder.tool}`;
    return `waiting for ${names} (${what}, ${ago((now - (builder.since ?? now)) / 1000)} so far)`;
  }
  const doing = builder?.tool ? `${who} is on ${builder.tool} first` : `starting ${who}`;
  return `waiting for ${names} (${doing}; waited ${ago((now - waitedSince) / 1000)} so far)`;
}

/** The builder's state as `slipway engine status` shows it. */
export function builderSummary(state: BuilderState | undefined, running: boolean, now = Date.now()): string {
  if (!state) return running ? "starting" : "never ran";
  const failed = state.failed.map((f) => f.tool);
  if (running) {
    const who = state.mode === "foreground" ? "`slipway engine up`" : "in the background";
    const doing = state.current
      ? `building ${state.current.tool} (${ago((now - Date.parse(state.current.since)) / 1000)} so far)`
      : "checking what to build";
    return (
      `${doing}, ${who}, pid ${state.pid}, since ${ago((now - Date.parse(state.started)) / 1000)} ago` +
      `${state.built.length ? `; built ${state.built.join(", ")}` : ""}${failed.length ? `; failed ${failed.join(", ")}` : ""}; log ${state.log}`
    );
  }
  if (!state.finished)
    return `stopped while ${state.current ? `building ${state.current.tool}` : "starting"} (pid ${state.pid}); log ${state.log}`;
  const when = `${ago((now - Date.parse(state.finished)) / 1000)} ago`;
  return failed.length
    ? `last run failed on ${failed.join(", ")} (${when}); log ${state.log}`
    : `idle (last run ended ${when}${state.built.length ? `, built ${state.built.join(", ")}` : ""})`;
}

// ---- starting and running the builder -------------------------------------------------------------------------

const CLI = fileURLToPath(new URL("../bin/slipway.js", import.meta.url));

/**
 * Starts `slipway engine tools` detached, at a lower CPU priority than the stages, output appended to TOOLS_LOG,
 * and takes the lock in its name at once: until it runs, nobody else starts another (it exits when another holds it).
 */
function spawnBuilder(): ChildProcess {
  ensureDir(paths.logs);
  const fd = openSync(TOOLS_LOG, "a");
  try {
    const child = spawn(process.execPath, [CLI, "engine", "tools"], { detached: true, stdio: ["ignore", fd, fd] });
    child.on("error", () => {}); // reported as a builder that never ran
    child.unref();
    if (child.pid) {
      tryLock(child.pid);
      try {
        setPriority(child.pid, 10); // the Go builds it starts inherit it: the code stages keep the CPU
      } catch {
        // not permitted: it runs at normal priority
      }
    }
    return child;
  } finally {
    closeSync(fd);
  }
}

/**
 * After the engine is up (useEngine): starts the background builder when a tool image is missing and no builder
 * runs, saying so in one line. Returns the missing tools. Costs a registry lookup per tool (milliseconds).
 */
export async function startToolBuilder(out: (line: string) => void = (l) => process.stderr.write(l + "\n")): Promise<string[]> {
  const missing = (await missingTools(buildable())).map((t) => t.name);
  if (missing.length === 0) return missing;
  const running = builderPid();
  if (running) return missing;
  spawnBuilder();
  out(
    `slipway: building ${missing.length} tool image${missing.length > 1 ? "s" : ""} in the background (${missing.join(", ")}); ` +
      `log ${TOOLS_LOG}, progress in \`slipway engine status\``,
  );
  return missing;
}

/**
 * `slipway engine tools`: builds every missing tool image, one at a time (wanted ones first), holding the lock and
 * keeping tools-builder.json current. Exits at once when another builder holds the lock. 1 when a build failed.
 */
export async function buildTools(
  out: (line: string) => void = (l) => process.stdout.write(`${new Date().toISOString()} ${l}\n`),
): Promise<number> {
  if (!tryLock()) {
    out(`tool builder: already running as pid ${builderPid() ?? "?"}; \`slipway engine status\` shows its progress`);
    return 0;
  }
  const release = () => unlock();
  process.on("exit", release);
  const stop = (sig: NodeJS.Signals) => () => {
    release();
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  process.once("SIGTERM", stop("SIGTERM"));
  process.once("SIGINT", stop("SIGINT"));
  const state: BuilderState = {
    pid: process.pid,
    mode: "background",
    started: new Date().toISOString(),
    log: TOOLS_LOG,
    built: [],
    failed: [],
  };
  try {
    writeBuilderState(state);
    out(`tool builder: pid ${process.pid} started`);
    // the builds import into Docker and push to the mirror: both must answer (they do once the engine is up)
    await runSteps([dockerStep, ...(EXTERNAL_MIRROR ? [] : [registryStep])], { out: (l) => out(l.trim()), quiet: true });
    const tried = new Set<string>();
    for (;;) {
      const missing = (await missingTools(buildable().filter((t) => !tried.has(t.name)))).map((t) => t.name);
      const next = nextTool(missing, wantedTools());
      if (!next) break;
      tried.add(next);
      const tool = buildable().find((t) => t.name === next)!;
      const t0 = Date.now();
      state.current = { tool: next, since: new Date(t0).toISOString() };
      writeBuilderState(state);
      out(`${next}: building ${tool.recipe.refs.join(", ")}`);
      try {
        await buildImage(tool.recipe, (l) => out(`${next}: ${l}`));
        state.built.push(next);
        out(`${next}: done, pushed as ${tool.recipe.refs.join(", ")} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
      } catch (err) {
        const e = err instanceof StepError ? err : undefined;
        const problem = e ? e.problem : err instanceof Error ? err.message : String(err);
        state.failed.push({ tool: next, problem, fix: e?.fix ?? `read ${TOOLS_LOG}` });
        out(`${next}: FAILED: ${e ? e.message : problem}`);
      }
      unwant(next);
      state.current = undefined;
      writeBuilderState(state);
    }
    out(
      state.failed.length
        ? `tool builder: done; failed: ${state.failed.map((f) => f.tool).join(", ")}`
        : `tool builder: done${state.built.length ? `; built ${state.built.join(", ")}` : ", nothing was missing"}`,
    );
    return state.failed.length ? 1 : 0;
  } catch (err) {
    state.failed.push({
      tool: state.current?.tool ?? "(setup)",
      problem: err instanceof Error ? err.message : String(err),
      fix: `read ${TOOLS_LOG}`,
    });
    out(`tool builder: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    state.current = undefined;
    state.finished = new Date().toISOString();
    writeBuilderState(state);
    release();
  }
}

// ---- the foreground (`slipway engine up`) ---------------------------------------------------------------------

let foreground: BuilderState | undefined;

/** Takes the builder lock for `engine up`, waiting for a background builder to end first. */
async function holdForeground(progress: (line: string) => void): Promise<BuilderState> {
  if (foreground) return foreground;
  let told = false;
  while (!tryLock()) {
    if (!told) {
      const s = readBuilderState();
      progress(
        `the background tool builder (pid ${builderPid() ?? "?"}) is at work${s?.current ? ` on ${s.current.tool}` : ""}: waiting for it (log ${TOOLS_LOG})`,
      );
      told = true;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  if (!process.listeners("exit").includes(unlock)) process.on("exit", unlock);
  // its state is written once it builds something: a run that found everything built keeps the last run's
  foreground = { pid: process.pid, mode: "foreground", started: new Date().toISOString(), log: "(this terminal)", built: [], failed: [] };
  return foreground;
}

/** Ends what `holdForeground` took: the state says the run finished, the lock goes. */
export function releaseForeground(): void {
  if (!foreground) return;
  if (foreground.built.length || foreground.failed.length) {
    foreground.current = undefined;
    foreground.finished = new Date().toISOString();
    writeBuilderState(foreground);
  }
  foreground = undefined;
  unlock();
}

/** The tool images as steps of `engine up` (in the foreground), under the builder lock. */
export function toolSteps(): Step[] {
  // the pipeline's order, as the background builder's: a run waiting on this foreground build gets its tools soonest
  const order = toolOrder(buildable().map((t) => t.name));
  const tools = [...buildable()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  return tools.map((tool) => ({
    title: `Image ${tool.recipe.refs[0]}`,
    async done() {
      return (await imageReady(tool.recipe)) ? "in the mirror" : undefined;
    },
    async run(progress) {
      const state = await holdForeground(progress);
      if (await imageReady(tool.recipe)) return "built meanwhile by the background tool builder";
      state.current = { tool: tool.name, since: new Date().toISOString() };
      writeBuilderState(state);
      try {
        await buildImage(tool.recipe, progress);
        state.built.push(tool.name);
      } catch (err) {
        const e = err instanceof StepError ? err : undefined;
        state.failed.push({ tool: tool.name, problem: e?.problem ?? String(err), fix: e?.fix ?? "" });
        throw err;
      } finally {
        state.current = undefined;
        writeBuilderState(state);
      }
      return `pushed as ${tool.recipe.refs.join(", ")}`;
    },
  }));
}

// ---- waiting ----------------------------------------------------------------------------------------------

/** What waitForTools reads and starts; tests replace it. */
export interface WaitIO {
  missing(tools: readonly ToolImage[]): Promise<ToolImage[]>;
  builderPid(): number | undefined;
  state(): BuilderState | undefined;
  /** Starts a builder; returns a function telling whether that process still runs. */
  start(): () => boolean;
  want(tools: readonly string[]): void;
}

const realIO: WaitIO = {
  missing: missingTools,
  builderPid,
  state: readBuilderState,
  start() {
    const child = spawnBuilder();
    let alive = child.pid !== undefined;
    child.on("exit", () => (alive = false));
    child.on("error", () => (alive = false));
    return () => alive;
  },
  want,
};

/** When this process started: a builder run that began before it did is not this run's. */
const PROCESS_STARTED = Date.now() - process.uptime() * 1000;

/** The one-line failure of a tool's build, with the log. */
function buildFailure(tool: ToolImage, state: BuilderState | undefined): StepError {
  const f = state?.failed.find((x) => x.tool === tool.name);
  const log = state?.log && state.log !== "(this terminal)" ? state.log : TOOLS_LOG;
  const step = `tool image ${tool.name} (${tool.recipe.refs[0]})`;
  if (f)
    return new StepError(
      step,
      `its build failed: ${f.problem}`,
      `${f.fix ? `${f.fix}; ` : ""}log ${log}; rebuild with \`slipway engine tools\``,
    );
  const how =
    state && !state.finished
      ? `the tool builder (pid ${state.pid}) stopped${state.current ? ` while building ${state.current.tool}` : ""}`
      : "the tool builder ended without building it";
  return new StepError(step, `not built: ${how}`, `read ${log}; rebuild with \`slipway engine tools\``);
}

/**
 * Returns once the named tool images (GO_TOOLS names, as STAGE_TOOLS/stageTools give them) are in the mirror: at
 * once when they are; otherwise asks the builder to take them first, starts it when none runs, and prints a
 * waiting line through `say` at once, when what it waits on changes, and at least every HEARTBEAT_SECONDS. Fails
 * with one line (StepError, naming the log) when the build of one fails or the builder ends without it.
 */
export async function waitForTools(
  names: readonly string[],
  say: (line: string) => void = (l) => process.stderr.write(l + "\n"),
  opts: { pollMs?: number; io?: Partial<WaitIO> } = {},
): Promise<void> {
  if (names.length === 0) return;
  const io = { ...realIO, ...opts.io };
  const pollMs = opts.pollMs ?? 2000;
  const unknown = names.filter((n) => !TOOL_IMAGES.some((t) => t.name === n));
  if (unknown.length)
    throw new Error(`unknown tool image ${unknown.join(", ")}: the catalog has ${TOOL_IMAGES.map((t) => t.name).join(", ")}`);
  const wanted = buildable().filter((t) => names.includes(t.name));
  let missing = await io.missing(wanted);
  if (missing.length === 0) return;
  const since = Date.now();
  io.want(missing.map((t) => t.name));
  let ours: (() => boolean) | undefined;
  let saidAt = 0;
  let saidWhat = "";
  for (;;) {
    const pid = io.builderPid();
    const running = pid !== undefined || (ours?.() ?? false);
    const state = io.state();
    if (!running) {
      // a run of this process's time that ended without the tool: its failure is the answer (the next command retries)
      const ended = state?.finished !== undefined && Date.parse(state.started) >= PROCESS_STARTED;
      if (ours || (ended && missing.some((t) => state!.failed.some((f) => f.tool === t.name)))) {
        throw buildFailure(missing.find((t) => state?.failed.some((f) => f.tool === t.name)) ?? missing[0], state);
      }
      ours = io.start();
    }
    // the state file is the running builder's once it has written it (until then, the last run's)
    const live = running && state && !state.finished && state.pid === pid ? state : undefined;
    const builder = {
      tool: live?.current?.tool,
      since: live?.current ? Date.parse(live.current.since) : undefined,
      foreground: live?.mode === "foreground",
    };
    const what = `${builder.tool ?? ""}`;
    const now = Date.now();
    if (saidAt === 0 || what !== saidWhat || now - saidAt >= HEARTBEAT_SECONDS * 1000 - pollMs) {
      say(
        waitLine(
          missing.map((t) => t.name),
          builder,
          now,
          since,
        ),
      );
      saidAt = now;
      saidWhat = what;
    }
    await new Promise((r) => setTimeout(r, pollMs));
    missing = await io.missing(missing);
    if (missing.length === 0) {
      say(`${wanted.map((t) => t.name).join(", ")} ready (waited ${ago((Date.now() - since) / 1000)})`);
      return;
    }
  }
}

/** Every tool image's readiness, for `slipway engine status`. */
export async function toolImagesSummary(): Promise<string> {
  const all = buildable();
  if (all.length === 0) return "served by the registry mirror";
  const missing = (await missingTools(all)).map((t) => t.name);
  return missing.length === 0
    ? `all ${all.length} ready`
    : `${all.length - missing.length} of ${all.length} ready; missing ${missing.join(", ")}`;
}

/** `slipway engine status`'s rows about the tool images and their builder. */
export async function toolStatusRows(): Promise<[string, string][]> {
  return [
    ["tool images", await toolImagesSummary()],
    ["tool builder", builderSummary(readBuilderState(), builderPid() !== undefined)],
  ];
}
