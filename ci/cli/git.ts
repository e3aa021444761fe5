/** The commit a source directory comes from, read on the host (the source sent to the engine has no .git). */
import { $ } from "zx";
import type { Commit } from "../../modules/image/src/index.ts";
import { publicUrl } from "../src/provenance.ts";

/** A commit as read from a work tree: also how many files differ from it (0 when clean). */
export interface WorkTreeCommit extends Commit {
  /** files with uncommitted changes (modified, added, deleted or untracked, not ignored) under the source */
  changes: number;
}

/**
 * The commit of `dir`, or undefined when it is not inside a git work tree with at least one commit. The source URL
 * is origin's without credentials (a remote https://user:TOKEN@host/r.git is published as https://host/r.git): it
 * goes into image labels, the signed provenance and reports.
 */
export async function commitOf(dir: string): Promise<WorkTreeCommit | undefined> {
  const git = $({ cwd: dir, nothrow: true, quiet: true });
  const head = await git`git rev-parse HEAD`;
  if (head.exitCode !== 0) return undefined;
  const [created, remote, top, status] = await Promise.all([
    git`git log -1 --format=%cI`,
    git`git config --get remote.origin.url`,
    git`git rev-parse --show-toplevel`,
    git`git status --porcelain --untracked-files=normal -- .`,
  ]);
  const changes = status.stdout.split("\n").filter((l) => l.trim() !== "").length;
  return {
    revision: head.stdout.trim(),
    created: created.stdout.trim(),
    source: publicUrl(remote.stdout.trim()) || `file://${top.stdout.trim()}`,
    dirty: changes > 0,
    changes,
  };
}

/**
 * The branch being built: the CI's own name for it (GitHub Actions: the pull request's head branch or the ref
 * name; GitLab CI: CI_COMMIT_REF_NAME), else the work tree's checked-out branch; "" when detached or no repository.
 */
export async function branchOf(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const ci = env.GITHUB_HEAD_REF || env.GITHUB_REF_NAME || env.CI_COMMIT_REF_NAME;
  if (ci) return ci === "HEAD" ? "" : ci; // a detached checkout, as a local runner may name it
  const r = await $({ cwd: dir, nothrow: true, quiet: true })`git rev-parse --abbrev-ref HEAD`;
  const name = r.exitCode === 0 ? r.stdout.trim() : "";
  return name === "HEAD" ? "" : name;
}
