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
}

/** Reads the project from its root listing and package.json text; one-line errors name the fix. */
export function describeProject(entries: string[], packageJson: string | undefined, lockfileText = ""): Project {
  if (packageJson === undefined) {
    throw new Error("no package.json at the source root: pass --source the directory of a Node project");
  }
  let pkg: { scripts?: Record<string, string>; packageManager?: string };
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
  return { manager, lockfile, scripts: pkg.scripts ?? {}, files: entries, ...(yarnClassic === undefined ? {} : { yarnClassic }) };
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
  return ["corepack", p.manager, "run", script, ...extra];
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
];

export type Plan = { command: string[]; source: string } | { notConfigured: string };

/** lint: the project's "lint" script, else ESLint when configured, else not configured. */
export function lintPlan(p: Project): Plan {
  if (p.scripts.lint) return { command: runScript(p, "lint"), source: `script "lint": ${p.scripts.lint}` };
  if (p.files.some((f) => ESLINT_CONFIGS.includes(f)))
    return { command: ["npx", "--no-install", "eslint", "."], source: "eslint (config found)" };
  return { notConfigured: 'no "lint" script and no ESLint configuration' };
}

/** typecheck: the project's "typecheck" script, else tsc --noEmit when there is a tsconfig.json. */
export function typecheckPlan(p: Project): Plan {
  if (p.scripts.typecheck) return { command: runScript(p, "typecheck"), source: `script "typecheck": ${p.scripts.typecheck}` };
  if (p.files.includes("tsconfig.json"))
    return { command: ["npx", "--no-install", "tsc", "--noEmit"], source: "tsc --noEmit (tsconfig.json found)" };
  return { notConfigured: 'no "typecheck" script and no tsconfig.json' };
}

/**
 * The extra arguments that make a known test runner write JUnit XML beside its normal output. Only a script that
 * is one command can take them: appended to `a && vitest`-style scripts they would reach the last command.
 */
function junitArgs(script: string, junitPath: string): string[] | undefined {
  if (/&&|\|\||;|\|/.test(script)) return undefined;
  if (/\bvitest\b/.test(script)) return ["--reporter=default", "--reporter=junit", `--outputFile.junit=${junitPath}`];
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

function scriptPlan(p: Project, name: string, junitPath: string): Plan & { junit?: boolean } {
  const script = p.scripts[name];
  const junit = junitArgs(script, junitPath);
  return junit
    ? { command: runScript(p, name, junit), source: `script "${name}": ${script}`, junit: true }
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
