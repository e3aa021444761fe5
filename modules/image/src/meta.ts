/** The pure parts of image building: OCI labels, tags from the commit, references, base images of a Dockerfile. */

export interface Commit {
  /** Full SHA of the commit the source was taken from. */
  revision: string;
  /** Commit time, RFC 3339. */
  created: string;
  /** Where the source lives (repository URL). */
  source: string;
  /** True when the source has changes the commit does not hold. */
  dirty: boolean;
}

/** OCI annotations as labels (https://github.com/opencontainers/image-spec/blob/main/annotations.md). */
export function ociLabels(c: Commit, title: string): Record<string, string> {
  return {
    "org.opencontainers.image.revision": c.revision,
    "org.opencontainers.image.created": c.created,
    "org.opencontainers.image.source": c.source,
    "org.opencontainers.image.title": title,
  };
}

/** The tags of an image built from a commit: the full SHA and the 12-character one ("-dirty" when not clean). */
export function tagsFor(c: Commit): string[] {
  if (!/^[0-9a-f]{40}$/.test(c.revision)) throw new Error(`"${c.revision}" is not a full git commit SHA (40 hex digits): pass the output of \`git rev-parse HEAD\``);
  const suffix = c.dirty ? "-dirty" : "";
  return [c.revision + suffix, c.revision.slice(0, 12) + suffix];
}

// registry host[:port]/path, lowercase path components (the distribution spec's grammar, without tag or digest)
const REPOSITORY = /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** Checks an image repository name; the error names the fix. */
export function checkRepository(repo: string): string {
  if (!REPOSITORY.test(repo)) {
    throw new Error(`invalid image repository "${repo}": expected registry/path without tag or digest, lowercase, e.g. 127.0.0.1:5000/team/app`);
  }
  return repo;
}

/** The base images a Dockerfile names in FROM lines (not its own stages, not scratch), in order, deduplicated. */
export function baseImages(dockerfile: string): string[] {
  const stages = new Set<string>();
  const out: string[] = [];
  for (const line of dockerfile.split("\n")) {
    const m = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!m) continue;
    const [, ref, alias] = m;
    if (!stages.has(ref.toLowerCase()) && ref !== "scratch" && !out.includes(ref)) out.push(ref);
    if (alias) stages.add(alias.toLowerCase());
  }
  return out;
}
