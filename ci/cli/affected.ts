/**
 * Affected-only runs in a workspace (npm or yarn "workspaces"): the packages whose files changed since a git ref,
 * plus every package that depends on one of them, directly or not. A change outside every package (the root
 * manifest, the lockfile, shared configuration) affects them all.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";

export interface WorkspacePackage {
  /** directory relative to the workspace root, e.g. packages/api */
  dir: string;
  name: string;
  /** names of the workspace packages it depends on */
  deps: string[];
}

/** The workspace's packages, from the root package.json's "workspaces" globs (dir/* and plain dirs). */
export function workspacePackages(root: string): WorkspacePackage[] {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { workspaces?: string[] | { packages?: string[] } };
  const patterns = Array.isArray(pkg.workspaces) ? pkg.workspaces : (pkg.workspaces?.packages ?? []);
  if (!patterns.length) throw new Error(`--affected-since needs a workspace: ${join(root, "package.json")} declares no "workspaces"`);
  const dirs = patterns
    .flatMap((p) => {
      const clean = p.replace(/\/$/, "");
      if (!clean.endsWith("/*")) return [clean];
      const parent = clean.slice(0, -2);
      return existsSync(join(root, parent)) ? readdirSync(join(root, parent)).map((d) => `${parent}/${d}`) : [];
    })
    .filter((d) => existsSync(join(root, d, "package.json")))
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
