import { defineConfig } from "vitest/config";

/**
 * The unit tier (`npm run test:unit`): the tests of pure logic, which need no engine, no Docker and no network.
 * `npm test` runs them too, with everything else (vitest.config.ts).
 */
export const UNIT_TESTS = [
  "modules/*/test/**/*.test.ts",
  "ci/test/bundle.test.ts",
  "ci/test/dag.test.ts",
  "ci/test/engine-state.test.ts",
  "ci/test/environments.test.ts",
  "ci/test/image-import.test.ts",
  "ci/test/kube-build.test.ts",
  "ci/test/layers.test.ts",
  "ci/test/pipeline-api.test.ts",
  "ci/test/module-boundaries.test.ts",
  "ci/test/module-contract.test.ts",
  "ci/test/provenance.test.ts",
  "ci/test/steps.test.ts",
  "ci/test/tools-plan.test.ts",
  "ci/test/trust.test.ts",
];

// isolate: false: a worker imports the SDK and TypeScript once for all its files (pure tests share no state), which
// is most of the tier's time otherwise (37 s isolated against 14 s shared, on a busy 2-core machine)
export default defineConfig({ test: { include: UNIT_TESTS, testTimeout: 60_000, isolate: false } });
