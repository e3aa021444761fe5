import { defineConfig } from "vitest/config";

/**
 * `npm test` (ci/test/suite.ts) runs these alone, after the rest: they stop, restart or kill the engine, or change
 * what the registry mirror serves, which would fail whatever else runs meanwhile; integration-stage checks that the
 * stage leaves no Docker engine process in the Dagger engine, which another file's Docker service would fail.
 */
export const EXCLUSIVE = [
  "ci/test/engine-lifecycle.test.ts",
  "ci/test/integration-stage.test.ts",
  "ci/test/registry.test.ts",
  "ci/test/reliability.test.ts",
  "ci/test/reproducible.test.ts",
  "ci/test/tools.test.ts",
];

/**
 * The files that deploy to the local targets (node-api and team-notes on staging and production, the previews, the
 * SSH test host) or run the integration stage (pipeline and wrappers: its Docker engine's image store is one cache
 * volume): one after another, side by side with the files that only use the engine and the registry (every other
 * file).
 */
export const TARGET_FILES = [
  "ci/test/deploy.test.ts",
  "ci/test/team-pipeline.test.ts",
  "ci/test/pipeline.test.ts",
  "ci/test/wrappers.test.ts",
  "ci/test/ssh-host.test.ts",
];

export default defineConfig({
  test: {
    include: ["ci/test/**/*.test.ts", "modules/*/test/**/*.test.ts"],
    // brings the engine up (slipway engine up) when it is not, before any test runs
    globalSetup: ["ci/test/global-setup.ts"],
    setupFiles: ["ci/test/engine-env.ts"],
    // within a vitest run files go one after another; `npm test` runs two such runs side by side (ci/test/suite.ts)
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 1_800_000,
  },
});
