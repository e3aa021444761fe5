/**
 * Slipway's pipeline API: what a project's `slipway.config.ts` imports (`import { ... } from "slipway"`) to add,
 * remove, replace and reorder stages. The built-in stages are values (`builtins`, `goldenPath`); `stage()` makes a
 * new one; `definePipeline()` assembles them and checks the whole before anything runs: a duplicate name, a stage
 * waiting for one that is not there, or a cycle is one line naming the stages.
 *
 * A stage waits in two ways. `needs`: stages whose output it uses (one skipped or failed skips it too). `after`:
 * gates, stages that must not have failed (one left out or skipped lets it run). `before` is `after` seen from the
 * other side: the named stages wait for this one (a migration before its environment's deploy).
 */
import type { Client, Container, Directory, Secret } from "@dagger.io/dagger";
import { PIPELINE, type StageDef } from "./dag.ts";

/** The built-in stages' names, in the golden path's order. */
export const BUILTIN_STAGES = PIPELINE.map((s) => s.name);

/** An environment as a stage sees it (the project's .env.<name> files): its URL, plain settings and secrets. */
export interface StageEnvironment {
  name: string;
  /** SLIPWAY_URL, where the environment answers ("" when it has none) */
  url: string;
  /** the app's plain variables (SLIPWAY_ENV_<NAME>=value in the files, given as NAME) */
  variables: Record<string, string>;
  /** the app's secrets (SLIPWAY_SECRET_<NAME>) as Dagger Secrets, by NAME: never as plain values */
  secrets: Record<string, Secret>;
  /**
   * ctr with the environment variable `variable` set to url as the container reaches it: a URL on this host's
   * loopback (the local targets' database, say) is tunnelled into the container and names the tunnel; any other
   * URL is set as it is. A Secret (secrets.DATABASE_URL) stays a secret.
   */
  withUrl(ctr: Container, variable: string, url: string | Secret): Promise<Container>;
}

/** What a stage's run function receives. */
export interface StageContext {
  /** the Dagger client of this run's engine session */
  dag: Client;
  /** the project's source as the other stages see it (node_modules and reports left out) */
  source: Directory;
  /** the project's directory on this host */
  sourcePath: string;
  /** the image the build stage pushed (repository@sha256:...), once it ran */
  image?: string;
  /** the git branch being built ("" when detached or not a repository) */
  branch: string;
  /** an environment of the project (.env.<name>): its URL, settings and secrets */
  environment(name: string): StageEnvironment;
  /** writes a file into this stage's reports (<reports>/<stage>/<file>) */
  report(file: string, contents: string): void;
  /** a progress line, shown as the stage runs */
  log(line: string): void;
}

/** How a stage's run ended: nothing returned or a string is a pass (the string its message); a throw fails it. */
export type StageOutcome = void | string | { status: "passed" | "failed"; message: string };

export interface Stage {
  name: string;
  /** stages whose output this one uses: one skipped or failed skips it */
  needs: string[];
  /** gates: stages that must not have failed first */
  after: string[];
  /** stages that wait for this one (added to their `after`) */
  before: string[];
  /** one line for --help */
  about: string;
  /** set for a built-in stage: Slipway runs it */
  builtin?: true;
  /**
   * also runs on a branch's preview run, against the preview in staging's place: its needs, gates and `before` on
   * deploy-staging and smoke-staging become deploy-preview and smoke-preview, and ctx.environment("staging") is the
   * preview (its URL, and its own database's DATABASE_URL)
   */
  previews?: boolean;
  /** a stage of the team's own */
  run?: (ctx: StageContext) => Promise<StageOutcome>;
}

/** The built-in stages, each a value to place, change (`{ ...builtins.scan, after: [...] }`) or leave out. */
export const builtins: Readonly<Record<string, Stage>> = Object.freeze(
  Object.fromEntries(PIPELINE.map((s) => [s.name, Object.freeze({ ...s, before: [], builtin: true as const })])),
);

/** Slipway's own pipeline: every built-in stage in order (no config means this). */
export const goldenPath: readonly Stage[] = Object.freeze(PIPELINE.map((s) => builtins[s.name]));

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** A stage of the team's own. */
export function stage(def: {
  name: string;
  needs?: string[];
  after?: string[];
  before?: string[];
  about?: string;
  /** also run it against a branch's preview, in staging's place (see Stage.previews) */
  previews?: boolean;
  run: (ctx: StageContext) => Promise<StageOutcome>;
}): Stage {
  if (typeof def.run !== "function")
    throw new Error(`stage ${JSON.stringify(def.name)} has no run function: give it run: async (ctx) => ...`);
  return {
    name: def.name,
    needs: def.needs ?? [],
    after: def.after ?? [],
    before: def.before ?? [],
    about: def.about ?? "a stage of the project's slipway.config.ts",
    ...(def.previews ? { previews: true } : {}),
    run: def.run,
  };
}

/**
 * stages without the named ones; a left-out stage is also taken out of the others' gates (`after`). A stage that
 * needs one of them (uses its output) stays, and definePipeline then names it.
 */
export function without(stages: readonly Stage[], ...names: string[]): Stage[] {
  for (const n of names)
    if (!stages.some((s) => s.name === n))
      throw new Error(`without(${JSON.stringify(n)}): no such stage; stages are ${stages.map((s) => s.name).join(", ")}`);
  return stages
    .filter((s) => !names.includes(s.name))
    .map((s) => ({ ...s, after: s.after.filter((a) => !names.includes(a)), before: s.before.filter((b) => !names.includes(b)) }));
}

/** A scan threshold: the lowest severity that fails the scan (low, medium, high, critical). */
export type Severity = "low" | "medium" | "high" | "critical";
const SEVERITIES: Severity[] = ["low", "medium", "high", "critical"];

export interface PipelineOptions {
  stages: readonly Stage[];
  /** the scan's threshold (default: --fail-on, high), and per branch: a name, or a pattern with * ("release/*") */
  scan?: { failOn?: Severity; branches?: Record<string, { failOn: Severity }> };
  /**
   * Preview environments: a run on any branch but `main`'s deploys the branch to its own environment (deploy-preview)
   * instead of staging and production. main: the branches (names or patterns with *) that deploy to staging and
   * production (default main and master); ttl: how long a preview lives after its last deploy (default 72h; s, m, h
   * or d). false: no previews, every branch deploys to staging and production.
   */
  previews?: false | { main?: string[]; ttl?: string };
}

/** Previews as a pipeline has them (PipelineOptions.previews with its defaults). */
export interface Previews {
  enabled: boolean;
  main: string[];
  ttl: string;
}

export const DEFAULT_PREVIEWS: Previews = Object.freeze({ enabled: true, main: ["main", "master"], ttl: "72h" });

export interface Pipeline {
  readonly stages: readonly Stage[];
  readonly scan: { failOn?: Severity; branches: Record<string, { failOn: Severity }> };
  readonly previews: Previews;
  /** marks a value definePipeline made (what the CLI expects as the config's default export) */
  readonly kind: "slipway.pipeline";
}

/** The pipeline of a team's program: checked whole (names, what each waits for, no cycle) before anything runs. */
export function definePipeline(options: PipelineOptions): Pipeline {
  if (!options || !Array.isArray(options.stages))
    throw new Error("definePipeline needs { stages: [...] }: start from goldenPath, e.g. stages: [...goldenPath, myStage]");
  const stages = options.stages.map((s) => ({ ...s, needs: [...s.needs], after: [...s.after], before: [...(s.before ?? [])] }));
  resolveStages(stages);
  const scan = options.scan ?? {};
  for (const [where, t] of [
    ["scan.failOn", scan.failOn],
    ...Object.entries(scan.branches ?? {}).map(([b, v]) => [`scan.branches["${b}"]`, v?.failOn]),
  ])
    if (t !== undefined && !SEVERITIES.includes(t as Severity))
      throw new Error(`${where}: ${JSON.stringify(t)} is not a severity: use ${SEVERITIES.join(", ")}`);
  const previews = options.previews === false ? { ...DEFAULT_PREVIEWS, enabled: false } : { ...DEFAULT_PREVIEWS, ...options.previews };
  if (!Array.isArray(previews.main) || !previews.main.every((b) => typeof b === "string" && b))
    throw new Error(`previews.main: ${JSON.stringify(previews.main)} is not a list of branch names: write e.g. ["main"]`);
  ttlSeconds(previews.ttl, "previews.ttl");
  return Object.freeze({
    stages,
    scan: { failOn: scan.failOn, branches: { ...(scan.branches ?? {}) } },
    previews,
    kind: "slipway.pipeline" as const,
  });
}

/**
 * The stages as the runner's DAG, in the declared order, `before` turned into the named stages' `after`; throws
 * one line for a bad name, a duplicate, a stage waiting for one that is not there, or a cycle.
 */
export function resolveStages(stages: readonly Stage[]): StageDef[] {
  const names = stages.map((s) => s.name);
  for (const s of stages) {
    if (typeof s?.name !== "string" || !NAME.test(s.name))
      throw new Error(`stage name ${JSON.stringify(s?.name)} is not one: use lowercase letters, digits and -, starting with a letter`);
    if (!s.builtin && !s.run) throw new Error(`stage "${s.name}" has no run function: make it with stage({ name, run })`);
    if (s.builtin && !BUILTIN_STAGES.includes(s.name))
      throw new Error(`stage "${s.name}" is marked built-in but Slipway has no such stage: make it with stage({ name, run })`);
  }
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`two stages are named "${dup}": rename one, or leave the built-in out (without(goldenPath, "${dup}"))`);
  const after = new Map(stages.map((s) => [s.name, [...s.after]]));
  for (const s of stages) {
    for (const [how, list] of [
      ["needs", s.needs],
      ["waits for", s.after],
      ["runs before", s.before],
    ] as const) {
      const missing = list.find((n) => !names.includes(n));
      if (missing)
        throw new Error(`stage "${s.name}" ${how} "${missing}", which is not in the pipeline: the stages are ${names.join(", ")}`);
    }
    for (const b of s.before) if (!after.get(b)!.includes(s.name)) after.get(b)!.push(s.name);
  }
  const defs: StageDef[] = stages.map((s) => ({ name: s.name, needs: [...s.needs], after: after.get(s.name)!, about: s.about }));
  const cycle = findCycle(defs);
  if (cycle) throw new Error(`the stages wait for each other in a cycle: ${cycle.join(" -> ")}`);
  return defs;
}

/** A cycle among the stages (names, the first repeated at the end), or undefined. */
function findCycle(defs: StageDef[]): string[] | undefined {
  const waitsFor = new Map(defs.map((d) => [d.name, [...d.needs, ...d.after]]));
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === "done") return undefined;
    if (state.get(n) === "open") return [...path.slice(path.indexOf(n)), n];
    state.set(n, "open");
    path.push(n);
    for (const d of waitsFor.get(n) ?? []) {
      const found = visit(d);
      if (found) return found;
    }
    path.pop();
    state.set(n, "done");
    return undefined;
  };
  for (const d of defs) {
    const found = visit(d.name);
    if (found) return found;
  }
  return undefined;
}

/** A branch pattern ("release/*": * matches any run of characters) as a test of branch names. */
const branchPattern = (pattern: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);

/** The scan threshold for branch: the first matching branch pattern's, else the pipeline's, else fallback. */
export function scanThreshold(p: Pipeline, branch: string, fallback: string): string {
  const match = Object.entries(p.scan.branches).find(([pattern]) => branchPattern(pattern).test(branch));
  return match?.[1].failOn ?? p.scan.failOn ?? fallback;
}

/** A TTL in seconds ("30s", "15m", "72h", "7d"); where names the setting in the error. */
export function ttlSeconds(text: string, where: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(String(text).trim());
  if (!m || Number(m[1]) === 0) throw new Error(`${where}: ${JSON.stringify(text)} is not a time to live: write e.g. 30m, 72h or 7d`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"];
}

/**
 * Whether a run of branch deploys a preview (in staging's and production's place): previews on, and a branch
 * that is not one of previews.main ("" — detached, or no repository — counts as main).
 */
export function isPreviewRun(previews: Previews, branch: string): boolean {
  return previews.enabled && branch !== "" && !previews.main.some((p) => branchPattern(p).test(branch));
}

/** The stages staging's and production's deploys are made of: a preview run skips them. */
export const MAIN_ONLY = ["deploy-staging", "smoke-staging", "approval", "deploy-production", "smoke-production"];
/** The preview's stages: a run on a main branch skips them. */
export const PREVIEW_ONLY = ["deploy-preview", "smoke-preview"];

/**
 * The stages of a preview run: a stage marked `previews` waits for the preview's deploy and smoke checks where it
 * waited for staging's, and runs before the preview's deploy where it ran before staging's.
 */
export function forPreview(stages: readonly Stage[]): Stage[] {
  const swap = (n: string) => (n === "deploy-staging" ? "deploy-preview" : n === "smoke-staging" ? "smoke-preview" : n);
  return stages.map((s) => (s.previews ? { ...s, needs: s.needs.map(swap), after: s.after.map(swap), before: s.before.map(swap) } : s));
}
