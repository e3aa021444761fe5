/** What a conventional Node project declares: its package manager (from the lockfile) and its scripts. */

export type PackageManager = "npm" | "pnpm" | "yarn";

/**
 * Files and directories besides package.json and the lockfile that an install reads: they go into the install
 * layer (and so into its cache key).
 */
export const INSTALL_INPUTS = [
  ".npmrc",
  ".yarnrc",
  ".yarnrc.yml",
  ".yarn/releases",
  ".yarn/plugins",
  ".yarn/patches",
  "patches",
  "pnpm-workspace.yaml",
  ".pnpmfile.cjs",
];

export const LOCKFILES: Record<string, PackageManager> = {
  "package-lock.json": "npm",
  "npm-shrinkwrap.json": "npm",
  "pnpm-lock.yaml": "pnpm",
  "yarn.lock": "yarn",
};

export interface Project {
  manager: PackageManager;
  lockfile: string;
  scripts: Record<string, string>;
  /** Files present at the project root, to find tool configurations. */
  files: string[];
  /** Yarn 1 ("# yarn lockfile v1"), whose frozen install flag differs from Yarn 2+'s. */
  yarnClassic?: boolean;
  /** Why the unit tests need a Docker engine (a Docker dependency, or the project's declaration); absent if not. */
  docker?: string;
}

/** Dependencies whose presence means the tests start containers: Testcontainers and Docker clients. */
const DOCKER_DEPENDENCY = /^(testcontainers|@testcontainers\/.+|dockerode|docker-compose|@trendyol\/jest-testcontainers)$/;

/**
 * Whether the unit tests need a Docker engine: package.json's `"slipway": { "docker": true | false }` decides when
 * present; else a dependency on Testcontainers or a Docker client. The reason, or undefined.
 */
export function dockerNeed(pkg: {
  slipway?: { docker?: unknown };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}): string | undefined {
  const declared = pkg.slipway?.docker;
  if (declared !== undefined && typeof declared !== "boolean") {
    throw new Error(`package.json "slipway.docker" is ${JSON.stringify(declared)}: use true or false`);
  }
  if (declared !== undefined) return declared ? 'package.json "slipway": { "docker": true }' : undefined;
  const dep = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).find((d) => DOCKER_DEPENDENCY.test(d));
  return dep ? `dependency "${dep}"` : undefined;
}

/** Reads the project from its root listing and package.json text; one-line errors name the fix. */
export function describeProject(entries: string[], packageJson: string | undefined, lockfileText = ""): Project {
  if (packageJson === undefined) {
    throw new Error("no package.json at the source root: pass --source the directory of a Node project");
  }
  let pkg: { scripts?: Record<string, string>; packageManager?: string } & Parameters<typeof dockerNeed>[0];
  try {
    pkg = JSON.parse(packageJson);
  } catch (err) {
    throw new Error(`package.json is not valid JSON (${(err as Error).message}): fix the file`, { cause: err });
  }
  const lockfile = Object.keys(LOCKFILES).find((f) => entries.includes(f));
  if (!lockfile) {
    throw new Error("no lockfile (package-lock.json, pnpm-lock.yaml or yarn.lock): run `npm install` and commit the lockfile");
  }
  const manager = LOCKFILES[lockfile];
  const yarnClassic = manager === "yarn" ? !lockfileText.includes("__metadata:") : undefined;
  const docker = dockerNeed(pkg);
  return {
    manager,
    lockfile,
    scripts: pkg.scripts ?? {},
    files: entries,
    ...(yarnClassic === undefined ? {} : { yarnClassic }),
    ...(docker ? { docker } : {}),
  };
}

/** The install command, reproducible from the lockfile. */
export function installCommand(p: Project): string[] {
  switch (p.manager) {
    case "npm":
      return ["npm", "ci", "--no-audit", "--no-fund"];
    case "pnpm":
      return ["corepack", "pnpm", "install", "--frozen-lockfile"];
    case "yarn":
      return ["corepack", "yarn", "install", p.yarnClassic ? "--frozen-lockfile" : "--immutable"];
  }
}

export function runScript(p: Project, script: string, extra: string[] = []): string[] {
  // npm needs "--" before arguments for the script; pnpm and yarn forward them as they are (a "--" would reach
  // the script, where e.g. `node --test` takes what follows for file names)
  if (p.manager === "npm") return extra.length ? ["npm", "run", script, "--", ...extra] : ["npm", "run", script];
  // Yarn 1 drops a leading "--" ("scripts don't require --"): one more keeps the one an npm hop needs
  const kept = p.yarnClassic && extra[0] === "--" ? ["--", ...extra] : extra;
  return ["corepack", p.manager, "run", script, ...kept];
}

const ESLINT_CONFIGS = [
  "eslint.config.js",
  "eslint.config.mjs",
  "eslint.config.cjs",
  "eslint.config.ts",
  ".eslintrc",
  ".eslintrc.js",
  ".eslintrc.cjs",
  ".eslintrc.json",
  ".eslintrc.yml",
  ".eslintrc.yaml",
];

export type Plan = { command: string[]; source: string } | { notConfigured: string };

/** The scripts lint looks for, in order, when the project has no "lint" script; then every "lint:*" script. */
export const LINT_SCRIPTS = ["lint", "test:lint", "lint:all", "test:code", "eslint", "check:lint", "check"];

/** The scripts typecheck looks for, in order. */
export const TYPECHECK_SCRIPTS = [
  "typecheck",
  "type-check",
  "typecheck:all",
  "check-types",
  "check:types",
  "check:type",
  "types",
  "tsc",
  "test:types",
];

/** The named script, or a one-line error that lists the scripts there are. */
function namedScript(p: Project, name: string, flag: string): Plan {
  if (!p.scripts[name]) {
    const have = Object.keys(p.scripts);
    throw new Error(
      `${flag} "${name}": package.json has no such script (it has ${have.length ? have.join(", ") : "none"}): name one of those`,
    );
  }
  return { command: runScript(p, name), source: `script "${name}": ${p.scripts[name]}` };
}

/**
 * The ESLint command when the project names no lint script. ESLint < 9 lints only .js files of a directory unless
 * told the extensions; a legacy .eslintrc* config on ESLint >= 9 needs ESLINT_USE_FLAT_CONFIG=false.
 */
export function eslintCommand(files: string[], eslintMajor: number | undefined): string[] {
  const legacy = files.some((f) => f.startsWith(".eslintrc"));
  const eslint = ["npx", "--no-install", "eslint"];
  if (legacy && eslintMajor !== undefined && eslintMajor < 9) return [...eslint, "--ext", ".js,.jsx,.ts,.tsx,.mjs,.cjs", "."];
  if (legacy && eslintMajor !== undefined && eslintMajor >= 9) return ["env", "ESLINT_USE_FLAT_CONFIG=false", ...eslint, "."];
  return [...eslint, "."];
}

/**
 * lint: the script named by `script` (--lint-script), else the first of LINT_SCRIPTS, else every "lint:*" script
 * one after the other, else ESLint when configured (flags for its major), else not configured.
 */
export function lintPlan(p: Project, script = "", eslintMajor?: number): Plan {
  if (script) return namedScript(p, script, "--lint-script");
  const name = LINT_SCRIPTS.find((s) => p.scripts[s]);
  if (name) return { command: runScript(p, name), source: `script "${name}": ${p.scripts[name]}` };
  const parts = Object.keys(p.scripts).filter((s) => s.startsWith("lint:") && !/fix/.test(s));
  if (parts.length) {
    const cmds = parts.map((s) => runScript(p, s).join(" "));
    return { command: ["sh", "-c", cmds.join(" && ")], source: `scripts ${parts.map((s) => `"${s}"`).join(", ")}` };
  }
  if (p.files.some((f) => ESLINT_CONFIGS.includes(f)))
    return { command: eslintCommand(p.files, eslintMajor), source: `eslint${eslintMajor ? ` ${eslintMajor}` : ""} (config found)` };
  return { notConfigured: `no ${LINT_SCRIPTS.map((s) => `"${s}"`).join(", ")} or "lint:*" script and no ESLint configuration` };
}

/** typecheck: the script named by `script` (--typecheck-script), else the first of TYPECHECK_SCRIPTS, else tsc. */
export function typecheckPlan(p: Project, script = ""): Plan {
  if (script) return namedScript(p, script, "--typecheck-script");
  const name = TYPECHECK_SCRIPTS.find((s) => p.scripts[s]);
  if (name) return { command: runScript(p, name), source: `script "${name}": ${p.scripts[name]}` };
  if (p.files.includes("tsconfig.json"))
    return { command: ["npx", "--no-install", "tsc", "--noEmit"], source: "tsc --noEmit (tsconfig.json found)" };
  return { notConfigured: `no ${TYPECHECK_SCRIPTS.map((s) => `"${s}"`).join(", ")} script and no tsconfig.json` };
}

/** Where Jest writes its --json results: beside the JUnit report, which the stage makes from them. */
export function jestJsonPath(junitPath: string): string {
  return junitPath.replace(/[^/]*$/, "jest.json");
}

/**
 * The extra arguments that make a known test runner write JUnit XML beside its normal output. Only a script that
 * is one command can take them: appended to `a && vitest`-style scripts they would reach the last command.
 */
function junitArgs(script: string, junitPath: string): string[] | undefined {
  if (/&&|\|\||;|\|/.test(script)) return undefined;
  if (/\bvitest\b/.test(script)) return ["--reporter=default", "--reporter=junit", `--outputFile.junit=${junitPath}`];
  // Jest: its own JSON results (no extra dependency), converted to JUnit by the stage (jestJunit in findings.ts)
  if (/(^|\s|\/)jest(\s|$)/.test(script)) return ["--json", `--outputFile=${jestJsonPath(junitPath)}`];
  // Mocha: its built-in xunit reporter into the file (Mocha has no multi-reporter: the spec output is replaced)
  if (/(^|\s|\/)mocha(\s|$)/.test(script)) return ["--reporter=xunit", `--reporter-option=output=${junitPath}`];
  if (/\bnode\b.*--test\b/.test(script)) {
    return [
      "--test-reporter=spec",
      "--test-reporter-destination=stdout",
      "--test-reporter=junit",
      `--test-reporter-destination=${junitPath}`,
    ];
  }
  return undefined;
}

/**
 * The command that arguments appended to a script reach, and what must precede them to get there: the script's
 * last `&&` step, followed through `npm run X`, `yarn [run] X` and `pnpm [run] X` hops to the project's own
 * scripts (each npm hop takes a "--" to pass arguments on; yarn and pnpm forward them as they are). So
 * `"test": "npm run lint && npm run unit"` with `"unit": "mocha"` reaches mocha. A script with `||`, `;` or a pipe
 * is left as it is.
 */
export function argumentTarget(p: Project, script: string, depth = 0): { command: string; prefix: string[] } {
  if (/\|\||;|\|/.test(script)) return { command: script, prefix: [] };
  const last = script.split("&&").pop()!.trim();
  const hop = /^(npm run(?:-script)?|yarn(?: run)?|pnpm(?: run)?)\s+([\w:.@/-]+)$/.exec(last);
  const next = hop ? p.scripts[hop[2]] : undefined;
  if (!hop || next === undefined || depth >= 4) return { command: last, prefix: [] };
  const inner = argumentTarget(p, next, depth + 1);
  return { command: inner.command, prefix: [...(hop[1].startsWith("npm") ? ["--"] : []), ...inner.prefix] };
}

function scriptPlan(p: Project, name: string, junitPath: string): Plan & { junit?: boolean } {
  const script = p.scripts[name];
  const target = argumentTarget(p, script);
  const junit = junitArgs(target.command, junitPath);
  const via = target.command === script ? "" : ` (reaching ${target.command})`;
  return junit
    ? { command: runScript(p, name, [...target.prefix, ...junit]), source: `script "${name}": ${script}${via}`, junit: true }
    : { command: runScript(p, name), source: `script "${name}": ${script}` };
}

/**
 * test (the unit tests): the project's "test:unit" script when it splits its tests into tiers (its "test" then
 * runs everything, end-to-end included), else its "test" script, each with a JUnit reporter where the runner is
 * known; else vitest if installed.
 */
export function testPlan(p: Project, junitPath: string): Plan & { junit?: boolean } {
  if (p.scripts["test:unit"]) return scriptPlan(p, "test:unit", junitPath);
  const script = p.scripts.test;
  if (script && !/no test specified/.test(script)) return scriptPlan(p, "test", junitPath);
  if (p.files.some((f) => /^vitest\.config\./.test(f))) {
    return {
      command: ["npx", "--no-install", "vitest", "run", ...junitArgs("vitest", junitPath)!],
      source: "vitest (config found)",
      junit: true,
    };
  }
  return { notConfigured: 'no "test" script and no vitest configuration' };
}

/** The scripts the integration stage looks for, in order. */
export const INTEGRATION_SCRIPTS = ["test:integration", "integration", "test:e2e"];

/** integration: the project's "test:integration" (or "integration", "test:e2e") script, with JUnit where known. */
export function integrationPlan(p: Project, junitPath: string): Plan & { junit?: boolean } {
  const name = INTEGRATION_SCRIPTS.find((s) => p.scripts[s]);
  if (name) return scriptPlan(p, name, junitPath);
  return { notConfigured: `no ${INTEGRATION_SCRIPTS.map((s) => `"${s}"`).join(", ")} script` };
}
