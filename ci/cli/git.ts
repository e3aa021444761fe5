/** The commit a source directory comes from, read on the host (the source sent to the engine has no .git). */
import { $ } from "zx";
import type { Commit } from "../../modules/image/src/index.ts";

/** The commit of `dir`, or undefined when it is not inside a git work tree with at least one commit. */
export async function commitOf(dir: string): Promise<Commit | undefined> {
  const git = $({ cwd: dir, nothrow: true, quiet: true });
  const head = await git`git rev-parse HEAD`;
  if (head.exitCode !== 0) return undefined;
  const [created, remote, top, status] = await Promise.all([
    git`git log -1 --format=%cI`,
    git`git config --get remote.origin.url`,
    git`git rev-parse --show-toplevel`,
    git`git status --porcelain --untracked-files=normal -- .`,
  ]);
  return {
    revision: head.stdout.trim(),
    created: created.stdout.trim(),
    source: remote.stdout.trim() || `file://${top.stdout.trim()}`,
    dirty: status.stdout.trim() !== "",
  };
}
