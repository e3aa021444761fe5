import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["ci/test/**/*.test.ts", "modules/*/test/**/*.test.ts"],
    // brings the engine up (slipway engine up) when it is not, before any test runs
    globalSetup: ["ci/test/global-setup.ts"],
    setupFiles: ["ci/test/engine-env.ts"],
    // end-to-end tests share one engine on a 2-core machine: files run one after another
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 1_800_000,
  },
});
