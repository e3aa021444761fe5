/**
 * Affected-only runs in a workspace (npm or yarn "workspaces", pnpm-workspace.yaml): the packages whose files changed since a git ref,
 * plus every package that depends on one of them, directly or not. A change outside every package (the root
 * manifest, the lockfile, shared configuration) affects them all.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { pnpmPackages, workspacePatterns } from "../../modules/node/src/workspace.ts";

export interface WorkspacePackage {
  /** directory relative to the workspace root, e.g. packages/api */
  dir: string;
  name: string;
  /** names of the workspace packages it depends on */
  deps: string[];
}

/**
 * The workspace's packages: the member globs of the root package.json's "workspaces" (npm, yarn) or of
 * pnpm-workspace.yaml (pnpm), as "dir", "dir/*" or "dir/**"; pnpm's exclusions ("!dir/x") drop members.
 */
export function workspacePackages(root: string): WorkspacePackage[] {
  const pnpmFile = join(root, "pnpm-workspace.yaml");
  const pnpm = existsSync(pnpmFile) ? readFileSync(pnpmFile, "utf8") : undefined;
  const patterns = workspacePatterns(readFileSync(join(root, "package.json"), "utf8"), pnpm);
  if (!patterns.length) {
    throw new Error(
      `--affected-since needs a workspace: ${pnpm === undefined ? `${join(root, "package.json")} declares no "workspaces"` : `${pnpmFile} lists no packages`}`,
    );
  }
  const excluded =
    pnpm === undefined
      ? []
      : pnpmPackages(pnpm)
          .filter((p) => p.startsWith("!"))
          .map((p) => p.slice(1).replace(/\/$/, ""));
  const dirs = [...new Set(patterns.flatMap((p) => expand(root, p.replace(/\/$/, ""))))]
    .filter((d) => existsSync(join(root, d, "package.json")) && !excluded.some((x) => matches(d, x)))
    .sort();
  const raw = dirs.map((dir) => ({
    dir,
    json: JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as {
      name?: string;
      dependencies?: object;
      devDependencies?: object;
      peerDependencies?: object;
    },
  }));
  const names = new Set(raw.map((r) => r.json.name ?? r.dir));
  return raw.map(({ dir, json }) => ({
    dir,
    name: json.name ?? dir,
    deps: Object.keys({ ...json.dependencies, ...json.devDependencies, ...json.peerDependencies }).filter((d) => names.has(d)),
  }));
}

/** Which packages a set of changed files (relative to the root) affects, each with the reason. */
export function affectedPackages(packages: WorkspacePackage[], changed: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const owner = (file: string) => packages.find((p) => file === p.dir || file.startsWith(`${p.dir}/`));
  const shared = changed.filter((f) => !owner(f));
  if (shared.length) {
    for (const p of packages) out.set(p.dir, `shared file changed: ${shared[0]}${shared.length > 1 ? ` (+${shared.length - 1})` : ""}`);
    return out;
  }
  for (const f of changed) {
    const p = owner(f)!;
    if (!out.has(p.dir)) out.set(p.dir, `changed: ${f}`);
  }
  // dependents, transitively
  for (let grew = true; grew;) {
    grew = false;
    for (const p of packages) {
      if (out.has(p.dir)) continue;
      const dep = p.deps.map((d) => packages.find((q) => q.name === d)!).find((q) => out.has(q.dir));
      if (dep) {
        out.set(p.dir, `depends on ${dep.name}`);
        grew = true;
      }
    }
  }
  return out;
}

/** Files changed in `root` since `ref` (committed or not) and files not yet tracked, relative to `root`. */
export async function changedSince(root: string, ref: string): Promise<string[]> {
  const git = $({ cwd: root, quiet: true, nothrow: true });
  if ((await git`git rev-parse --verify --quiet ${`${ref}^{commit}`}`).exitCode !== 0) {
    throw new Error(`--affected-since ${ref}: no such commit in ${root}: fetch it (git fetch origin ${ref}) or pass a SHA`);
  }
  const [diff, untracked] = await Promise.all([
    git`git diff --name-only --relative ${ref} -- .`,
    git`git ls-files --others --exclude-standard -- .`,
  ]);
  return [...new Set([...diff.stdout.split("\n"), ...untracked.stdout.split("\n")].filter(Boolean))].sort();
}

/** The directories a member glob names: "dir", "dir/*" (its subdirectories) or "dir/**" (at any depth). */
function expand(root: string, pattern: string): string[] {
  const star = pattern.indexOf("*");
  if (star < 0) return [pattern];
  const parent = pattern.slice(0, star).replace(/\/$/, "");
  if (!existsSync(join(root, parent))) return [];
  const deep = pattern.slice(star).startsWith("**");
  const below = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name !== "node_modules" && !e.name.startsWith("."))
      .flatMap((e) => {
        const d = `${dir}/${e.name}`;
        return deep ? [d, ...below(d)] : [d];
      });
  return below(parent).filter((d) => matches(d, pattern));
}

/** Whether a directory matches a member glob ("*" one path segment, "**" any number). */
function matches(dir: string, pattern: string): boolean {
  const re = pattern
    .split("/")
    .map((part) => (part === "**" ? "(?:.+)" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")))
    .join("/");
  return new RegExp(`^${re}$`).test(dir);
}
