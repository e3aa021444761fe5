/** Host-side helpers for provisioning: paths, root and apt checks, detached daemons, what Slipway started. */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { StepError } from "./steps.ts";

$.quiet = true;
$.verbose = false;

/** Machine-level cache of slow results (Go modules, binaries, image roots, registry data), keyed by version. */
export const CACHE = process.env.SLIPWAY_CACHE ?? "/var/cache/slipway";
export const paths = {
  cache: CACHE,
  logs: join(CACHE, "logs"),
  state: join(CACHE, "state.json"),
  connection: join(CACHE, "engine.env"),
  registryData: join(CACHE, "registry"),
  images: join(CACHE, "images"),
  downloads: join(CACHE, "downloads"),
};

export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** What `engine up` started, so that `engine down` stops only that. */
export interface StartedState {
  dockerd?: number;
  registry?: number;
  /** the registry's front (files/registry-front.mjs) */
  registryFront?: number;
  engine?: string;
}

export function readState(): StartedState {
  try {
    return JSON.parse(readFileSync(paths.state, "utf8")) as StartedState;
  } catch {
    return {};
  }
}

export function writeState(update: Partial<StartedState>): void {
  ensureDir(paths.cache);
  const next = { ...readState(), ...update };
  for (const key of Object.keys(next) as (keyof StartedState)[]) if (next[key] === undefined) delete next[key];
  writeFileSync(paths.state, JSON.stringify(next, null, 2) + "\n");
}

/** True when `pid` runs `command` (a recorded pid may have been reused by another program since). */
export function pidRuns(pid: number | undefined, command: string): boolean {
  if (!pid) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0].endsWith(command);
  } catch {
    return false;
  }
}

export async function commandExists(cmd: string): Promise<boolean> {
  return (await $`command -v ${cmd}`.nothrow()).exitCode === 0;
}

export function requireRoot(step: string, what: string): void {
  if (process.getuid?.() !== 0) {
    throw new StepError(step, `installing ${what} needs root`, "rerun as root, e.g. `sudo npm run engine`");
  }
}

/** Fails early when the cache's filesystem has less than `gib` GiB free. */
export function requireDisk(step: string, gib: number): void {
  ensureDir(paths.cache);
  const fs = statfsSync(paths.cache);
  const free = (fs.bavail * fs.bsize) / 2 ** 30;
  if (free < gib) {
    throw new StepError(
      step,
      `${free.toFixed(1)} GiB free under ${paths.cache}, ${gib} GiB needed`,
      `free disk space or point SLIPWAY_CACHE at a larger filesystem`,
    );
  }
}

/** Installs Debian packages that are missing (idempotent, non-interactive). */
export async function aptInstall(step: string, packages: string[], progress: (l: string) => void): Promise<void> {
  const missing: string[] = [];
  for (const p of packages) {
    const r = await $`dpkg-query -W -f=${"${Status}"} ${p}`.nothrow();
    if (!r.stdout.includes("install ok installed")) missing.push(p);
  }
  if (missing.length === 0) return;
  requireRoot(step, missing.join(", "));
  if (!(await commandExists("apt-get"))) {
    throw new StepError(
      step,
      `apt-get not found (need ${missing.join(", ")})`,
      "run on Debian or Ubuntu, or install these packages by hand",
    );
  }
  progress(`apt-get install ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => $({ env })`apt-get install -y --no-install-recommends ${missing}`.nothrow();
  let r = await install();
  if (r.exitCode !== 0) {
    await $({ env })`apt-get update`.nothrow();
    r = await install();
  }
  if (r.exitCode !== 0) {
    const last = r.stderr.trim().split("\n").pop();
    throw new StepError(
      step,
      `apt-get install ${missing.join(" ")} failed: ${last}`,
      "check that apt can reach its mirrors (apt-get update)",
    );
  }
}

/** Starts a long-running daemon detached from this process, logging to the cache's logs directory. */
export function startDaemon(name: string, cmd: string, args: string[]): number {
  ensureDir(paths.logs);
  const logFile = join(paths.logs, `${name}.log`);
  const fd = openSync(logFile, "a");
  const child = spawn(cmd, args, { detached: true, stdio: ["ignore", fd, fd] });
  child.unref();
  if (!child.pid) throw new Error(`could not start ${cmd}`);
  return child.pid;
}

/** Polls `probe` until it succeeds or `seconds` pass. */
export async function waitFor(probe: () => Promise<boolean>, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return probe();
}

export function tail(file: string, lines = 3): string {
  if (!existsSync(file)) return "";
  return readFileSync(file, "utf8").trim().split("\n").slice(-lines).join(" | ");
}
