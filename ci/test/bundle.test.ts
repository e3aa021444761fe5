/** When ci/bin/slipway.js may run the CLI's bundle and when it must rebuild it (ci/bin/bundle.mjs): no esbuild, no engine. */
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildDir, FORMAT, freshEntry, staleReason, type Manifest, type Stamp } from "../bin/bundle.mjs";

const ROOT = "/checkout";
const manifest = (over: Partial<Manifest> = {}): Manifest => ({
  format: FORMAT,
  root: ROOT,
  entry: "node_modules/.cache/slipway/b1-1/slipway.mjs",
  inputs: { "ci/cli/cli.ts": [1000.5, 120], "node_modules/zx/build/index.js": [499162500000, 4000] },
  ...over,
});
/** A file system of stamps by absolute path. */
const fs = (files: Record<string, Stamp>) => (p: string) => files[p];
const unchanged = {
  "/checkout/node_modules/.cache/slipway/b1-1/slipway.mjs": [2000, 5000],
  "/checkout/ci/cli/cli.ts": [1000.5, 120],
  "/checkout/node_modules/zx/build/index.js": [499162500000, 4000],
} satisfies Record<string, Stamp>;

describe("the CLI bundle's freshness", () => {
  it("is fresh when built here and every input keeps its modification time and size", () => {
    expect(staleReason(manifest(), ROOT, fs(unchanged))).toBeUndefined();
  });

  it("is stale when an input was edited, touched, put back with an older time, or is gone", () => {
    expect(staleReason(manifest(), ROOT, fs({ ...unchanged, "/checkout/ci/cli/cli.ts": [3000, 120] }))).toBe("ci/cli/cli.ts changed");
    expect(staleReason(manifest(), ROOT, fs({ ...unchanged, "/checkout/ci/cli/cli.ts": [1000.5, 121] }))).toBe("ci/cli/cli.ts changed");
    expect(staleReason(manifest(), ROOT, fs({ ...unchanged, "/checkout/ci/cli/cli.ts": [900, 120] }))).toBe("ci/cli/cli.ts changed");
    // a dependency reinstalled with npm's fixed file times but another size
    expect(staleReason(manifest(), ROOT, fs({ ...unchanged, "/checkout/node_modules/zx/build/index.js": [499162500000, 4001] }))).toBe(
      "node_modules/zx/build/index.js changed",
    );
    const { "/checkout/ci/cli/cli.ts": _, ...withoutCli } = unchanged;
    expect(staleReason(manifest(), ROOT, fs(withoutCli))).toBe("ci/cli/cli.ts is gone");
  });

  it("is stale without a bundle, from another checkout or build script, without its files, or marked for a rebuild", () => {
    expect(staleReason(undefined, ROOT, fs(unchanged))).toBe("no bundle");
    expect(staleReason(manifest(), "/elsewhere", fs(unchanged))).toBe("built in another checkout (/checkout)");
    expect(staleReason(manifest({ format: FORMAT + 1 }), ROOT, fs(unchanged))).toBe("built by another version of the build script");
    const { "/checkout/node_modules/.cache/slipway/b1-1/slipway.mjs": _, ...withoutEntry } = unchanged;
    expect(staleReason(manifest(), ROOT, fs(withoutEntry))).toBe("the bundle's files are missing");
    expect(staleReason(manifest({ inputs: {} }), ROOT, fs(unchanged))).toBe("no inputs recorded");
    expect(staleReason(manifest({ rebuild: "ci/cli/cli.ts changed during the last build" }), ROOT, fs(unchanged))).toBe(
      "ci/cli/cli.ts changed during the last build",
    );
  });

  it("reads the manifest beside the bundle and stats the real files", () => {
    const root = mkdtempSync(join(tmpdir(), "slipway-bundle-"));
    mkdirSync(join(root, "ci/cli"), { recursive: true });
    mkdirSync(join(buildDir(root), "b1-1"), { recursive: true });
    writeFileSync(join(root, "ci/cli/cli.ts"), "export {};\n");
    writeFileSync(join(buildDir(root), "b1-1/slipway.mjs"), "export {};\n");
    utimesSync(join(root, "ci/cli/cli.ts"), 1000, 1000);
    expect(freshEntry(root)).toEqual({ reason: "no bundle" });
    const m: Manifest = {
      format: FORMAT,
      root,
      entry: "node_modules/.cache/slipway/b1-1/slipway.mjs",
      inputs: { "ci/cli/cli.ts": [1_000_000, 11] },
    };
    writeFileSync(join(buildDir(root), "manifest.json"), JSON.stringify(m));
    expect(freshEntry(root)).toEqual({ entry: join(buildDir(root), "b1-1/slipway.mjs") });
    writeFileSync(join(root, "ci/cli/cli.ts"), "export {};\n"); // same text, written again: a new time
    expect(freshEntry(root)).toEqual({ reason: "ci/cli/cli.ts changed" });
  });
});
