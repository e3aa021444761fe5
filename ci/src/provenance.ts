/** SLSA provenance v1 (https://slsa.dev/spec/v1.0/provenance) for an image built from a commit by Slipway. */

export const BUILD_TYPE = "https://slipway.dev/build/dockerfile/v1";

export interface ProvenanceInput {
  /** repository@sha256:... of the image (the statement's subject is added by cosign attest). */
  image: string;
  /** Source repository URL and full commit SHA. */
  sourceUrl: string;
  revision: string;
  dockerfile: string;
  /** Base images by digest (name@sha256:...). */
  baseImages: string[];
  /** Builder id, e.g. https://slipway.dev/builder/dagger@v0.19.10 */
  builder: string;
  startedOn: string;
  finishedOn: string;
  invocationId: string;
}

/** "node:22@sha256:ab" -> a resolved dependency with its digest. */
function material(ref: string): { uri: string; digest: Record<string, string> } {
  const at = ref.lastIndexOf("@");
  if (at < 0 || !ref.slice(at + 1).startsWith("sha256:"))
    throw new Error(`base image "${ref}" has no digest: resolve it to name@sha256:... first`);
  return { uri: `pkg:docker/${encodeURIComponent(ref.slice(0, at))}`, digest: { sha256: ref.slice(at + 8) } };
}

/** The provenance predicate (cosign attest --type slsaprovenance1 wraps it in an in-toto statement). */
export function provenance(p: ProvenanceInput): object {
  const source = p.revision ? [{ uri: `git+${p.sourceUrl}@${p.revision}`, digest: { gitCommit: p.revision } }] : [];
  return {
    buildDefinition: {
      buildType: BUILD_TYPE,
      externalParameters: { source: p.sourceUrl, revision: p.revision, dockerfile: p.dockerfile },
      internalParameters: {},
      resolvedDependencies: [...source, ...p.baseImages.map(material)],
    },
    runDetails: {
      builder: { id: p.builder },
      metadata: { invocationId: p.invocationId, startedOn: p.startedOn, finishedOn: p.finishedOn },
    },
  };
}
