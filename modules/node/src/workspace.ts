/**
 * A workspace's member globs, as its package manager declares them: npm and yarn in the root package.json
 * ("workspaces" as a list or {packages}), pnpm in pnpm-workspace.yaml ("packages:" list). Pure.
 */

/** The member globs ("packages/*", "apps/web"); exclusions ("!**\/test/**") are left out. */
export function workspacePatterns(packageJson: string, pnpmWorkspace?: string): string[] {
  if (pnpmWorkspace !== undefined) return pnpmPackages(pnpmWorkspace).filter((p) => !p.startsWith("!"));
  const ws = (JSON.parse(packageJson) as { workspaces?: string[] | { packages?: string[] } }).workspaces;
  return Array.isArray(ws) ? ws : (ws?.packages ?? []);
}

/**
 * The "packages:" list of a pnpm-workspace.yaml: block items ("  - 'packages/*'") or a flow list
 * ("packages: [a, b]"), quoted or not, comments ignored. Other keys (catalog, onlyBuiltDependencies) are skipped.
 */
export function pnpmPackages(yaml: string): string[] {
  const unquote = (s: string) => s.trim().replace(/^(['"])(.*)\1$/, "$2");
  const lines = yaml.split("\n").map((l) => l.replace(/\s+#.*$/, "").replace(/^#.*$/, ""));
  const start = lines.findIndex((l) => /^packages\s*:/.test(l));
  if (start < 0) return [];
  const inline = /^packages\s*:\s*\[(.*)\]\s*$/.exec(lines[start]);
  if (inline) return inline[1].split(",").map(unquote).filter(Boolean);
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.trim()) continue;
    const item = /^\s+-\s+(.+)$/.exec(line);
    if (!item) break; // the next key
    out.push(unquote(item[1]));
  }
  return out;
}
