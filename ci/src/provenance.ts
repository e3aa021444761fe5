/** SLSA provenance v1 (https://slsa.dev/spec/v1.0/provenance) for an image built from a commit by Slipway. */

export const BUILD_TYPE = "https://slipway.dev/build/dockerfile/v1";

export interface ProvenanceInput {
  /** repository@sha256:... of the image (the statement's subject is added by cosign attest). */
  image: string;
  /** Source repository URL and full commit SHA. */
  sourceUrl: string;
  revision: string;
  /** True when the source had changes the commit does not hold (signed only with --allow-dirty). */
  dirty?: boolean;
  dockerfile: string;
  /** Base images by digest (name@sha256:...). */
  baseImages: string[];
  /** Builder id, e.g. https://slipway.dev/builder/dagger@v0.19.10 */
  builder: string;
  startedOn: string;
  finishedOn: string;
  invocationId: string;
}

/**
 * A repository URL as it may be published (image labels, provenance, reports): without userinfo
 * (https://user:TOKEN@host/r.git -> https://host/r.git), query or fragment, which is where credentials ride in a
 * git remote. scp-like remotes (git@host:org/r.git) carry no password and are kept as they are.
 */
export function publicUrl(url: string): string {
  const u = url.trim();
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)(?:[^/?#]*@)?([^?#]*)/.exec(u);
  if (m) return m[1] + m[2];
  return u.replace(/[?#].*$/, "");
}

/** "node:22@sha256:ab" -> a resolved dependency with its digest. */
function material(ref: string): { uri: string; digest: Record<string, string> } {
  const at = ref.lastIndexOf("@");
  if (at < 0 || !ref.slice(at + 1).startsWith("sha256:"))
    throw new Error(`base image "${ref}" has no digest: resolve it to name@sha256:... first`);
  return { uri: `pkg:docker/${encodeURIComponent(ref.slice(0, at))}`, digest: { sha256: ref.slice(at + 8) } };
}

/**
 * The provenance predicate (cosign attest --type slsaprovenance1 wraps it in an in-toto statement). The source URL
 * is published without credentials (publicUrl); a dirty source says so, in externalParameters.dirty and on the
 * source dependency: its bytes are not the commit's.
 */
export function provenance(p: ProvenanceInput): object {
  const sourceUrl = publicUrl(p.sourceUrl);
  const dirty = p.dirty ?? false;
  const source = p.revision
    ? [
        {
          uri: `git+${sourceUrl}@${p.revision}`,
          digest: { gitCommit: p.revision },
          ...(dirty ? { annotations: { dirty: true, note: "built from a work tree with uncommitted changes" } } : {}),
        },
      ]
    : [];
  return {
    buildDefinition: {
      buildType: BUILD_TYPE,
      externalParameters: { source: sourceUrl, revision: p.revision, dirty, dockerfile: p.dockerfile },
      internalParameters: {},
      resolvedDependencies: [...source, ...p.baseImages.map(material)],
    },
    runDetails: {
      builder: { id: p.builder },
      metadata: { invocationId: p.invocationId, startedOn: p.startedOn, finishedOn: p.finishedOn },
    },
  };
}
