/** The pure parts of image building: OCI labels, tags from the commit, references, base images of a Dockerfile. */
import { createHash } from "node:crypto";

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

/**
 * A repository URL as an image may carry it: without userinfo (https://user:TOKEN@host/r.git -> https://host/r.git),
 * query or fragment, where credentials ride in a git remote. scp-like remotes (git@host:org/r.git) hold no password
 * and are kept. (ci/src/provenance.ts has the same rule for the provenance: a module imports nothing outside itself.)
 */
export function publicUrl(url: string): string {
  const u = url.trim();
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)(?:[^/?#]*@)?([^?#]*)/.exec(u);
  if (m) return m[1] + m[2];
  return u.replace(/[?#].*$/, "");
}

/**
 * OCI annotations as labels (https://github.com/opencontainers/image-spec/blob/main/annotations.md). The source URL
 * is stripped of credentials (publicUrl) whoever passed it: labels are readable by anyone who can pull the image.
 */
export function ociLabels(c: Commit, title: string): Record<string, string> {
  return {
    "org.opencontainers.image.revision": c.revision,
    "org.opencontainers.image.created": c.created,
    "org.opencontainers.image.source": publicUrl(c.source),
    "org.opencontainers.image.title": title,
  };
}

/** The tags of an image built from a commit: the full SHA and the 12-character one ("-dirty" when not clean). */
export function tagsFor(c: Commit): string[] {
  if (!/^[0-9a-f]{40}$/.test(c.revision))
    throw new Error(`"${c.revision}" is not a full git commit SHA (40 hex digits): pass the output of \`git rev-parse HEAD\``);
  const suffix = c.dirty ? "-dirty" : "";
  return [c.revision + suffix, c.revision.slice(0, 12) + suffix];
}

// registry host[:port]/path, lowercase path components (the distribution spec's grammar, without tag or digest)
const REPOSITORY = /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** Checks an image repository name; the error names the fix. */
export function checkRepository(repo: string): string {
  if (!REPOSITORY.test(repo)) {
    throw new Error(
      `invalid image repository "${repo}": expected registry/path without tag or digest, lowercase, e.g. 127.0.0.1:5000/team/app`,
    );
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

/**
 * The image the Dockerfile's last stage (the one built) starts from, through the stages it names: "scratch" for
 * none, undefined when the Dockerfile does not tell (a FROM naming an ARG with no default). Global ARG defaults
 * (ARG lines before the first FROM) are substituted, as the builder does when no build argument overrides them.
 */
export function finalBaseImage(dockerfile: string): string | undefined {
  const args = new Map<string, string>();
  const stages = new Map<string, string>();
  let last: string | undefined;
  for (const line of dockerfile.split("\n")) {
    const arg = /^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?\s*$/i.exec(line);
    if (arg && last === undefined) {
      if (arg[2] !== undefined) args.set(arg[1], arg[2].replace(/^"(.*)"$/, "$1"));
      continue;
    }
    const from = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!from) continue;
    const ref = from[1].replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, a, b) => args.get(a ?? b) ?? m);
    // a FROM naming an earlier stage starts where that stage started
    last = stages.get(ref.toLowerCase()) ?? ref;
    if (from[2]) stages.set(from[2].toLowerCase(), last);
  }
  return last === undefined || last.includes("$") ? undefined : last.toLowerCase() === "scratch" ? "scratch" : last;
}

/** The clock of a reproducible build: the commit time, as SOURCE_DATE_EPOCH and as RFC 3339 in UTC. */
export interface BuildTime {
  /** Seconds since 1970-01-01T00:00:00Z. */
  epoch: number;
  /** The same instant, e.g. 2026-07-01T21:30:11Z (regctl's --time wants RFC 3339). */
  rfc3339: string;
}

// what `git log --format=%cI` prints (strict ISO 8601 = RFC 3339), optionally with fractional seconds
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;

/**
 * The commit time (RFC 3339, any offset) as the time every timestamp of the image is set to; the same instant
 * in any offset gives the same result. No commit (""): the epoch 0, so a build of the same files is still
 * reproducible. Sub-second digits are dropped (tar headers and SOURCE_DATE_EPOCH count whole seconds).
 */
export function buildTime(created: string): BuildTime {
  const ms = created ? Date.parse(created) : 0;
  if (created && (!RFC3339.test(created) || Number.isNaN(ms) || ms < 0)) {
    throw new Error(
      `"${created}" is not a commit time in RFC 3339 after 1970 (e.g. 2026-07-01T17:30:11-04:00): pass the output of \`git log -1 --format=%cI\``,
    );
  }
  const epoch = Math.floor(ms / 1000);
  return { epoch, rfc3339: new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, "Z") };
}

/** An OCI image manifest and config as JSON text, and the manifest's digest (what a registry serves it by). */
export interface ImageDocuments {
  manifest: string;
  config: string;
  /** sha256:... of manifest */
  digest: string;
  /** sha256:... of config */
  configDigest: string;
}

const sha256 = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;

/**
 * The image with each history entry's `created_by` left out, everything else as it is. The engine describes a
 * layer by the step that first made it in its cache ("pulled from node:22@sha256:...", "[build 2/7] WORKDIR
 * /app"), which may be another build's step or another name of the same base image: text that depends on
 * the cache, not on the commit. Returns the new config, the manifest pointing at it, and their digests.
 */
export function withoutCacheHistory(manifestJson: string, configJson: string): ImageDocuments {
  const manifest = JSON.parse(manifestJson) as { config: { digest: string; size: number } };
  const config = JSON.parse(configJson) as { history?: Record<string, unknown>[] };
  if (config.history) config.history = config.history.map(({ created_by: _, ...entry }) => entry);
  const configText = JSON.stringify(config);
  const configDigest = sha256(configText);
  manifest.config = { ...manifest.config, digest: configDigest, size: Buffer.byteLength(configText) };
  const manifestText = JSON.stringify(manifest);
  return { manifest: manifestText, config: configText, digest: sha256(manifestText), configDigest };
}

/**
 * A failed push (Image.publish's regctl script) as one line: the step, regctl's error, the fix. The script ends
 * its stderr with "slipway-failed: <step>" after regctl's own error; target is the repository as regctl reached
 * it (through the loopback tunnel's alias), named back as the user wrote it.
 */
export function pushError(stderr: string, repository: string, target: string): string {
  const lines = stderr.trim().split("\n").filter(Boolean);
  let at = lines.length - 1;
  while (at >= 0 && !lines[at].startsWith("slipway-failed: ")) at--;
  const step = at >= 0 ? lines[at].slice("slipway-failed: ".length) : "push";
  const cause = (at > 0 ? lines[at - 1] : (lines.at(-1) ?? "no output")).replace(/^Error: /, "");
  const host = repository.split("/")[0];
  const ref = /^(?:push|digest) (.+)$/.exec(step)?.[1].replace(target, repository) ?? repository;
  // regctl checks the registry as it configures it: this is the first contact
  if (step === "configure")
    return `push to ${repository} failed, ${host} does not answer (${cause}): check that the registry runs and this host reaches it`;
  if (step === "login") return `login to ${host} failed (${cause}): check the credentials (--username, --password)`;
  return `push to ${ref} failed (${cause}): check that the registry is reachable and the credentials (--username, --password) are right`;
}
