import { describe, expect, it } from "vitest";
import {
  describeProject,
  dockerNeed,
  eslintCommand,
  installCommand,
  integrationPlan,
  lintPlan,
  testPlan,
  typecheckPlan,
} from "../src/project.ts";

const pkg = (scripts: Record<string, string> = {}) => JSON.stringify({ name: "x", scripts });

describe("describeProject", () => {
  it("detects the package manager from the lockfile", () => {
    expect(describeProject(["package.json", "package-lock.json"], pkg()).manager).toBe("npm");
    expect(describeProject(["package.json", "pnpm-lock.yaml"], pkg()).manager).toBe("pnpm");
    expect(describeProject(["package.json", "yarn.lock"], pkg()).manager).toBe("yarn");
  });

  it("says how to fix a missing lockfile, package.json or broken JSON", () => {
    expect(() => describeProject(["package.json"], pkg())).toThrow(/no lockfile .* commit the lockfile/);
    expect(() => describeProject([], undefined)).toThrow(/no package.json .* --source/);
    expect(() => describeProject(["package.json", "yarn.lock"], "{")).toThrow(/package.json is not valid JSON/);
  });

  it("installs from the lockfile without changing it", () => {
    expect(installCommand(describeProject(["package.json", "package-lock.json"], pkg()))).toEqual(["npm", "ci", "--no-audit", "--no-fund"]);
    expect(installCommand(describeProject(["package.json", "pnpm-lock.yaml"], pkg()))).toContain("--frozen-lockfile");
  });
});

describe("plans", () => {
  const npm = (files: string[], scripts?: Record<string, string>) =>
    describeProject(["package.json", "package-lock.json", ...files], pkg(scripts));

  it("prefers the project's scripts", () => {
    expect(lintPlan(npm([], { lint: "eslint ." }))).toMatchObject({ command: ["npm", "run", "lint"] });
    expect(typecheckPlan(npm([], { typecheck: "tsc --noEmit" }))).toMatchObject({ command: ["npm", "run", "typecheck"] });
  });

  it("falls back to the ecosystem defaults when configured", () => {
    expect(lintPlan(npm(["eslint.config.js"]))).toMatchObject({ command: ["npx", "--no-install", "eslint", "."] });
    expect(typecheckPlan(npm(["tsconfig.json"]))).toMatchObject({ command: ["npx", "--no-install", "tsc", "--noEmit"] });
  });

  it("reports not configured as its own outcome", () => {
    expect(lintPlan(npm([]))).toEqual({ notConfigured: expect.stringMatching(/no "lint", .* script and no ESLint/) });
    expect(testPlan(npm([], { test: 'echo "Error: no test specified" && exit 1' }), "/r/junit.xml")).toHaveProperty("notConfigured");
  });

  it("adds a JUnit reporter to vitest and node --test", () => {
    expect(testPlan(npm([], { test: "vitest run" }), "/r/junit.xml")).toMatchObject({
      junit: true,
      command: expect.arrayContaining(["--outputFile.junit=/r/junit.xml"]),
    });
    expect(testPlan(npm([], { test: "node --test" }), "/r/junit.xml")).toMatchObject({
      junit: true,
      command: expect.arrayContaining(["--test-reporter=junit"]),
    });
    // a project with test tiers: the unit stage runs its unit tier, not everything
    expect(
      testPlan(npm([], { test: "vitest run", "test:unit": "vitest run --config vitest.unit.config.ts" }), "/r/junit.xml"),
    ).toMatchObject({
      command: ["npm", "run", "test:unit", "--", "--reporter=default", "--reporter=junit", "--outputFile.junit=/r/junit.xml"],
    });
  });

  it('follows the script\'s last && step through npm/yarn/pnpm run hops to the runner, one "--" per npm hop', () => {
    // prop-types: "test": "npm run tests-only", "tests-only": "jest"
    expect(testPlan(npm([], { test: "npm run tests-only", "tests-only": "jest" }), "/r/junit.xml")).toEqual({
      command: ["npm", "run", "test", "--", "--", "--json", "--outputFile=/r/jest.json"],
      source: 'script "test": npm run tests-only (reaching jest)',
      junit: true,
    });
    // async: "test": "npm run lint && npm run mocha-node-test"
    expect(
      testPlan(npm([], { test: "npm run lint && npm run unit", lint: "eslint .", unit: "mocha test/" }), "/r/junit.xml"),
    ).toMatchObject({ command: ["npm", "run", "test", "--", "--", "--reporter=xunit", "--reporter-option=output=/r/junit.xml"] });
    const yarn = describeProject(["package.json", "yarn.lock"], pkg({ test: "yarn run unit", unit: "npm run inner", inner: "vitest run" }));
    expect(testPlan(yarn, "/r/junit.xml")).toMatchObject({
      command: ["corepack", "yarn", "run", "test", "--", "--", "--reporter=default", "--reporter=junit", "--outputFile.junit=/r/junit.xml"],
    });
    // Yarn 1 drops the first "--" it is given: the npm hop's is doubled
    const classic = describeProject(
      ["package.json", "yarn.lock"],
      pkg({ test: "npm run tests-only", "tests-only": "jest" }),
      "# yarn lockfile v1\n",
    );
    expect(testPlan(classic, "/r/junit.xml")).toMatchObject({
      command: ["corepack", "yarn", "run", "test", "--", "--", "--json", "--outputFile=/r/jest.json"],
    });
    // the runner is not the last step, or the script has || or a pipe: no per-test report
    expect(testPlan(npm([], { test: "node --test && npm run check", check: "tsc" }), "/r/junit.xml")).not.toHaveProperty("junit");
    expect(testPlan(npm([], { test: "npm run unit || true", unit: "jest" }), "/r/junit.xml")).not.toHaveProperty("junit");
    // a hop to a script that does not exist, or a cycle, ends the walk
    expect(testPlan(npm([], { test: "npm run nothing" }), "/r/junit.xml")).not.toHaveProperty("junit");
    expect(testPlan(npm([], { test: "npm run a", a: "npm run test" }), "/r/junit.xml")).not.toHaveProperty("junit");
  });

  it("gives Jest its --json results file and Mocha its xunit reporter; a jest-like word is not Jest", () => {
    expect(testPlan(npm([], { test: "jest --coverage" }), "/r/junit.xml")).toEqual({
      command: ["npm", "run", "test", "--", "--json", "--outputFile=/r/jest.json"],
      source: 'script "test": jest --coverage',
      junit: true,
    });
    expect(testPlan(npm([], { test: "mocha 'test/**/*.spec.js'" }), "/r/junit.xml")).toMatchObject({
      command: ["npm", "run", "test", "--", "--reporter=xunit", "--reporter-option=output=/r/junit.xml"],
    });
    expect(testPlan(npm([], { test: "node_modules/.bin/mocha" }), "/r/junit.xml")).toMatchObject({ junit: true });
    expect(testPlan(npm([], { test: "jest-runner-x" }), "/r/junit.xml")).toEqual({
      command: ["npm", "run", "test"],
      source: 'script "test": jest-runner-x',
    });
    // flags appended to a compound script reach its last step
    expect(testPlan(npm([], { test: "tsc && jest" }), "/r/junit.xml")).toMatchObject({
      command: ["npm", "run", "test", "--", "--json", "--outputFile=/r/jest.json"],
      source: 'script "test": tsc && jest (reaching jest)',
    });
  });

  it("integration runs the first of test:integration, integration, test:e2e, with JUnit for vitest", () => {
    expect(integrationPlan(npm([], { "test:integration": "vitest run --project integration", integration: "x" }), "/r/j.xml")).toEqual({
      command: ["npm", "run", "test:integration", "--", "--reporter=default", "--reporter=junit", "--outputFile.junit=/r/j.xml"],
      source: 'script "test:integration": vitest run --project integration',
      junit: true,
    });
    expect(integrationPlan(npm([], { "test:e2e": "playwright test" }), "/r/j.xml")).toMatchObject({ command: ["npm", "run", "test:e2e"] });
    expect(integrationPlan(npm([], { test: "vitest" }), "/r/j.xml")).toEqual({
      notConfigured: 'no "test:integration", "integration", "test:e2e" script',
    });
  });

  it('pnpm and yarn get script arguments without npm\'s "--", and yarn 1 its own frozen-lockfile flag', () => {
    const pnpm = describeProject(["package.json", "pnpm-lock.yaml"], pkg({ test: "node --test" }));
    expect(testPlan(pnpm, "/r/j.xml")).toMatchObject({
      command: [
        "corepack",
        "pnpm",
        "run",
        "test",
        "--test-reporter=spec",
        "--test-reporter-destination=stdout",
        "--test-reporter=junit",
        "--test-reporter-destination=/r/j.xml",
      ],
    });
    expect(installCommand(describeProject(["package.json", "yarn.lock"], pkg(), "# yarn lockfile v1\n"))).toEqual([
      "corepack",
      "yarn",
      "install",
      "--frozen-lockfile",
    ]);
    expect(installCommand(describeProject(["package.json", "yarn.lock"], pkg(), "__metadata:\n  version: 8\n"))).toEqual([
      "corepack",
      "yarn",
      "install",
      "--immutable",
    ]);
  });

  it("adds JUnit flags only to a script that is one command (in `a && vitest` they would reach the last command)", () => {
    expect(testPlan(npm([], { test: "vitest run && npm run test-types" }), "/r/j.xml")).toEqual({
      command: ["npm", "run", "test"],
      source: 'script "test": vitest run && npm run test-types',
    });
    expect(testPlan(npm([], { test: "pnpm lint; vitest" }), "/r/j.xml")).not.toHaveProperty("junit");
  });
});

describe("dockerNeed", () => {
  it("a Testcontainers or Docker client dependency means the tests need Docker", () => {
    expect(dockerNeed({ devDependencies: { "@testcontainers/postgresql": "^11" } })).toBe('dependency "@testcontainers/postgresql"');
    expect(dockerNeed({ dependencies: { dockerode: "^4" } })).toBe('dependency "dockerode"');
    expect(dockerNeed({ devDependencies: { vitest: "^3", "testcontainers-helper": "1" } })).toBeUndefined();
  });

  it("the project's declaration decides, both ways, and must be a boolean", () => {
    expect(dockerNeed({ slipway: { docker: true } })).toBe('package.json "slipway": { "docker": true }');
    expect(dockerNeed({ slipway: { docker: false }, devDependencies: { testcontainers: "^11" } })).toBeUndefined();
    expect(() => dockerNeed({ slipway: { docker: "yes" } })).toThrow('package.json "slipway.docker" is "yes": use true or false');
  });

  it("describeProject carries the reason", () => {
    const pkg = JSON.stringify({ scripts: { test: "node --test" }, devDependencies: { testcontainers: "^11" } });
    expect(describeProject(["package.json", "package-lock.json"], pkg).docker).toBe('dependency "testcontainers"');
    expect(describeProject(["package.json", "package-lock.json"], "{}")).not.toHaveProperty("docker");
  });
});

describe("lint and typecheck discovery", () => {
  const npm = (files: string[], scripts: Record<string, string> = {}) =>
    describeProject(["package.json", "package-lock.json", ...files], JSON.stringify({ scripts }));
  it("finds the lint command under the names projects use, test:code included, or every lint:* script", () => {
    expect(lintPlan(npm([], { "test:code": "eslint --ext .ts src", test: "jest" }))).toEqual({
      command: ["npm", "run", "test:code"],
      source: 'script "test:code": eslint --ext .ts src',
    });
    expect(lintPlan(npm([], { "lint:js": "eslint .", "lint:css": "stylelint x", "lint:fix": "eslint --fix ." }))).toEqual({
      command: ["sh", "-c", "npm run lint:js && npm run lint:css"],
      source: 'scripts "lint:js", "lint:css"',
    });
    expect(typecheckPlan(npm([], { "check:types": "tsc -b" }))).toMatchObject({ command: ["npm", "run", "check:types"] });
  });

  it("a named script runs; a missing one is a one-line error listing the scripts there are", () => {
    expect(lintPlan(npm([], { lint: "x", verify: "eslint src" }), "verify")).toMatchObject({ command: ["npm", "run", "verify"] });
    expect(() => typecheckPlan(npm([], { lint: "x" }), "types")).toThrow(
      '--typecheck-script "types": package.json has no such script (it has lint): name one of those',
    );
  });

  it("the ESLint fallback passes --ext for a legacy config on ESLint < 9", () => {
    expect(lintPlan(npm([".eslintrc.json"]), "", 8)).toEqual({
      command: ["npx", "--no-install", "eslint", "--ext", ".js,.jsx,.ts,.tsx,.mjs,.cjs", "."],
      source: "eslint 8 (config found)",
    });
    expect(eslintCommand(["eslint.config.js"], 9)).toEqual(["npx", "--no-install", "eslint", "."]);
    expect(eslintCommand([".eslintrc.cjs"], 9)).toEqual(["env", "ESLINT_USE_FLAT_CONFIG=false", "npx", "--no-install", "eslint", "."]);
  });
});
