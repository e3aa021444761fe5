/**
 * Node toolchain stages for any conventional Node project: dependency install cached by lockfile, lint,
 * typecheck and unit tests with a JUnit report. Runs the same in module mode (`dagger call -m modules/node`)
 * and in client mode (slipway), which calls this class directly.
 */
import { argument, Container, dag, Directory, type ExecError, func, object, ReturnType, Service } from "@dagger.io/dagger";
import { deps } from "./deps.ts";
import {
  configProblem,
  eslintFindings,
  type Finding as FindingData,
  findingText,
  firstErrorLines,
  jestJunit,
  junitFailures,
  junitForCommand,
  junitTotals,
  tscFindings,
} from "./findings.ts";
import {
  describeProject,
  INSTALL_INPUTS,
  installCommand,
  integrationPlan,
  LOCKFILES,
  lintPlan,
  type Plan,
  type Project,
  testPlan,
  typecheckPlan,
} from "./project.ts";
import { StageResult, type Status } from "./result.ts";
import { workspacePatterns } from "./workspace.ts";

export { Finding, StageResult } from "./result.ts";

/** The image the pin table names (modules/pins, a dependency in dagger.json): one table for every module. */
function pinned(name: string): Promise<string> {
  return (dag as unknown as { pins(): { image(name: string): Promise<string> } }).pins().image(name);
}
const WORKDIR = "/src";
const REPORTS = "/reports";
/** What never travels into a container (the decorators repeat it literally: the introspector reads literals). */
export const EXCLUDE = ["**/node_modules", ".git", "reports", "dist", "coverage"];

@object()
export class Node {
  /** Base image of every stage; empty: the pinned Node image (`dagger -m modules/pins call image --name node`). */
  @func() image: string;

  constructor(image: string = "") {
    this.image = image;
  }

  /** The project with dependencies installed: a layer keyed on manifest and lockfile only. */
  @func()
  async install(
    @argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory,
  ): Promise<Container> {
    return (await this.prepare(source)).ctr;
  }

  /**
   * Lint with the project's lint script ("lint", "test:lint", "test:code", ..., every "lint:*"), else ESLint when
   * configured, with the flags for the installed ESLint major. workspace: a package of an npm/pnpm/yarn workspace
   * (e.g. packages/api), run in its directory with the whole workspace installed. script: the script to run.
   */
  @func()
  async lint(
    @argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory,
    workspace = "",
    script = "",
  ): Promise<StageResult> {
    const { ctr, project } = await this.prepare(source, workspace);
    let plan = lintPlan(project, script);
    if ("command" in plan && plan.source.startsWith("eslint")) {
      // the installed ESLint's major decides its flags (resolved as the project resolves it, hoisting included)
      const version = await ctr.withExec(["node", "-p", "require('eslint/package.json').version"], { expect: ReturnType.Any }).stdout();
      plan = lintPlan(project, script, Number(/^(\d+)\./.exec(version.trim())?.[1]) || undefined);
    }
    return this.run("lint", ctr, plan, (out) => eslintFindings(out).concat(tscFindings(out)));
  }

  /**
   * Type-check with the project's typecheck script ("typecheck", "type-check", "check:types", ...), else
   * tsc --noEmit when there is a tsconfig.json. script: the script to run.
   */
  @func()
  async typecheck(
    @argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory,
    workspace = "",
    script = "",
  ): Promise<StageResult> {
    const { ctr, project } = await this.prepare(source, workspace);
    return this.run("typecheck", ctr, typecheckPlan(project, script), (out) => tscFindings(out));
  }

  /**
   * Unit tests with the project's "test" script; the JUnit report is exported whether they pass or fail. Tests
   * that start containers (a Testcontainers or Docker client dependency, or `"slipway": { "docker": true }` in
   * package.json) get the integration stage's Docker engine, harness and clean-up; registryMirror and dockerImage
   * as for integration.
   */
  @func()
  async test(
    @argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory,
    workspace = "",
    registryMirror?: Service,
    dockerImage?: string,
  ): Promise<StageResult> {
    const { ctr, project } = await this.prepare(source, workspace);
    const plan = testPlan(project, `${REPORTS}/junit.xml`);
    if (!project.docker || "notConfigured" in plan) return this.run("test", ctr, plan, () => []);
    return this.runWithDocker("test", ctr, plan, registryMirror, dockerImage, false);
  }

  /**
   * Integration tests (the "test:integration" script) against a Docker engine service that Testcontainers uses;
   * JUnit, the logs of every dependency container and docker.json (containers, pulled images) in the reports.
   * registryMirror: a docker.io pull-through mirror for that engine (plain HTTP), e.g. tcp://localhost:5000.
   * noCache: run even when the same source passed before (the result is otherwise cached like any stage's).
   */
  @func()
  async integration(
    @argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory,
    registryMirror?: Service,
    dockerImage?: string,
    noCache = false,
  ): Promise<StageResult> {
    const { ctr, project } = await this.prepare(source);
    const plan = integrationPlan(project, `${REPORTS}/junit.xml`);
    if ("notConfigured" in plan) return this.run("integration", ctr, plan, () => []);
    return this.runWithDocker("integration", ctr, plan, registryMirror, dockerImage, noCache);
  }

  /** A test stage's command under the Testcontainers harness, with a Docker engine service bound. */
  private async runWithDocker(
    stage: string,
    ctr: Container,
    plan: { command: string[]; source: string; junit?: boolean },
    registryMirror: Service | undefined,
    dockerImage: string | undefined,
    noCache: boolean,
  ): Promise<StageResult> {
    const testcontainers = deps.testcontainers({ image: dockerImage });
    let withDocker = await testcontainers.bind(ctr, { registryMirror });
    if (noCache) withDocker = withDocker.withEnvVariable("SLIPWAY_RUN", String(Date.now()));
    return this.run(stage, withDocker, { ...plan, command: await testcontainers.underHarness(REPORTS, plan.command) }, () => []);
  }

  private async prepare(source: Directory, workspace = ""): Promise<{ ctr: Container; project: Project }> {
    const entries = await source.entries();
    const packageJson = entries.includes("package.json") ? await source.file("package.json").contents() : undefined;
    const lockfile = Object.keys(LOCKFILES).find((f) => entries.includes(f));
    const lockText = lockfile ? await source.file(lockfile).contents() : "";
    let project = describeProject(entries, packageJson, lockText);
    // Cache order: manifest and lockfile first, so editing source never reinstalls; then the source. The
    // manifests are rebuilt from their contents so that the layer's cache key depends on nothing else.
    let manifests = dag.directory().withNewFile("package.json", packageJson!).withNewFile(project.lockfile, lockText);
    // a workspace installs from every member's manifest (npm/yarn "workspaces", or pnpm-workspace.yaml)
    const pnpmWorkspace = entries.includes("pnpm-workspace.yaml") ? await source.file("pnpm-workspace.yaml").contents() : undefined;
    for (const pattern of workspacePatterns(packageJson!, pnpmWorkspace)) {
      for (const file of await source.glob(`${pattern.replace(/\/$/, "")}/package.json`)) {
        manifests = manifests.withNewFile(file, await source.file(file).contents());
      }
    }
    if (workspace) {
      const member = source.directory(workspace);
      const memberEntries = await member.entries().catch(() => {
        throw new Error(`workspace ${workspace} is not a directory of the source: name a package directory such as packages/api`);
      });
      const memberJson = memberEntries.includes("package.json") ? await member.file("package.json").contents() : undefined;
      if (!memberJson) throw new Error(`workspace ${workspace} has no package.json: name a package directory of the workspace`);
      project = {
        ...project,
        scripts: (JSON.parse(memberJson) as { scripts?: Record<string, string> }).scripts ?? {},
        files: memberEntries,
      };
    }
    const present = await Promise.all(
      INSTALL_INPUTS.map(async (path) => {
        const [top] = path.split("/");
        if (!entries.includes(top) && !entries.includes(`${top}/`)) return undefined;
        return (await source.glob(path)).length ? path : undefined;
      }),
    );
    for (const path of present.filter((p): p is string => Boolean(p))) {
      manifests =
        path.includes("/") || path === "patches"
          ? manifests.withDirectory(path, source.directory(path))
          : manifests.withNewFile(path, await source.file(path).contents());
    }
    const ctr = dag
      .container()
      .from(this.image || (await pinned("node")))
      .withMountedCache("/root/.npm", dag.cacheVolume("slipway-npm"))
      .withMountedCache("/root/.cache", dag.cacheVolume(`slipway-${project.manager}-cache`))
      .withEnvVariable("CI", "true")
      // a project that names no packageManager gets the pnpm/yarn release this corepack knows, not "latest"
      // (reproducible, and no need for the registry's signing keys to match corepack's)
      .withEnvVariable("COREPACK_DEFAULT_TO_LATEST", "0")
      // corepack fetches pnpm and yarn releases from the npm registry (yarn 2+ otherwise comes from repo.yarnpkg.com)
      .withEnvVariable("COREPACK_NPM_REGISTRY", "https://registry.npmjs.org")
      .withDirectory(WORKDIR, manifests)
      .withWorkdir(WORKDIR)
      // the stamp records when the install ran: a cached layer keeps the old one
      // pnpm and yarn on PATH too, for scripts that call them ("pnpm lint && vitest")
      .withExec([
        "sh",
        "-c",
        `${project.manager === "npm" ? "" : "corepack enable && "}${installCommand(project).join(" ")} && date +%s%N > /tmp/slipway-installed-at`,
      ])
      .withDirectory(WORKDIR, source, { exclude: EXCLUDE })
      .withDirectory(REPORTS, dag.directory())
      .withWorkdir(workspace ? `${WORKDIR}/${workspace}` : WORKDIR);
    return { ctr, project };
  }

  private async run(
    stage: string,
    ctr: Container,
    plan: Plan & { junit?: boolean },
    findings: (out: string) => FindingData[],
  ): Promise<StageResult> {
    if ("notConfigured" in plan) {
      return StageResult.of({
        stage,
        status: "not-configured",
        message: `${stage}: not configured (${plan.notConfigured})`,
        reports: dag.directory(),
      });
    }
    // the command stamps when it ran: a result the engine serves from cache carries an older stamp
    const startedAt = Date.now();
    const stamped = ["sh", "-c", 'date +%s%3N > /tmp/slipway-ran-at && exec "$@"', "sh", ...plan.command];
    const done = ctr.withExec(stamped, { expect: ReturnType.Any });
    const [exitCode, stdout, stderr, ranAt] = await Promise.all([
      done.exitCode(),
      done.stdout(),
      done.stderr(),
      done.file("/tmp/slipway-ran-at").contents(),
    ]).catch(installFailed);
    const cached = Number(ranAt.trim()) < startedAt - 1000;
    const output = [stdout, stderr].filter(Boolean).join("\n");
    const command = plan.command.join(" ");
    let reports = done.directory(REPORTS);
    let found = findings(output);
    if (stage === "test" || stage === "integration") {
      // Jest wrote its --json results: the JUnit report is made from them
      const before = await reports.entries();
      if (!before.includes("junit.xml") && before.includes("jest.json")) {
        reports = reports.withNewFile("junit.xml", jestJunit(await reports.file("jest.json").contents()));
      }
      const written = before.includes("junit.xml") || before.includes("jest.json");
      const xml = written ? await reports.file("junit.xml").contents() : junitForCommand(stage, command, exitCode, output);
      if (!written) reports = reports.withNewFile("junit.xml", xml);
      // a report made up from the exit code names the command, not the cause: the output's last lines do
      found = written ? junitFailures(xml) : [];
      const t = junitTotals(xml);
      const status: Status = exitCode === 0 ? "passed" : "failed";
      const entries = await reports.entries();
      const docker = entries.includes("docker.json") ? dockerSummary(await reports.file("docker.json").contents()) : "";
      const counts = written
        ? `${t.tests} tests, ${t.failures} failed, ${t.skipped} skipped`
        : `no per-test report: ${plan.source} does not end in a vitest, jest, mocha or node --test command (directly or through npm/yarn/pnpm run)`;
      const summary = `${counts}${docker}`;
      const message =
        status === "passed"
          ? `${stage}: passed (${summary})`
          : `${stage}: failed (${summary}): ${found.map(findingText).join("; ") || firstErrorLines(output) || lastLines(output)}`;
      return StageResult.of({
        stage,
        status,
        message,
        command,
        exitCode,
        output,
        reports,
        cached,
        findings: status === "failed" ? found : [],
      });
    }
    const status: Status = exitCode === 0 ? "passed" : "failed";
    const problem = exitCode !== 0 && !found.length ? configProblem(output) : undefined;
    const message =
      status === "passed"
        ? `${stage}: passed (${plan.source})`
        : problem
          ? `${stage}: failed, configuration problem: ${problem}`
          : `${stage}: failed, ${found.length} error(s): ${found.slice(0, 5).map(findingText).join("; ") || lastLines(output)}${found.length > 5 ? "; ..." : ""}`;
    return StageResult.of({
      stage,
      status,
      message,
      command,
      exitCode,
      output,
      reports,
      cached,
      findings: status === "failed" ? found : [],
    });
  }
}

/** "; 1 container (logs in containers/), pulled: postgres:15" from the harness's docker.json. */
function dockerSummary(text: string): string {
  const d = JSON.parse(text) as { containers: unknown[]; pulled: string[]; leftovers: number };
  const n = d.containers.length;
  return (
    `; ${n} container${n === 1 ? "" : "s"}${n ? " (logs in containers/)" : ""}, pulled: ${d.pulled.join(", ") || "none"}` +
    (d.leftovers ? `, ${d.leftovers} left running` : "")
  );
}

/** The install layer failed (the stage's own command never ran): one line with the command and its last words. */
function installFailed(err: unknown): never {
  if (isExecError(err)) {
    const cmd = err.cmd
      .join(" ")
      .replace(/ && date .*$/, "")
      .replace(/^sh -c /, "");
    const lines = `${err.stdout}\n${err.stderr}`
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !/^at /.test(l) && !/^Node\.js v/.test(l) && !/^[{}\])]+$/.test(l)); // no stack frames or braces
    const errors = lines.filter((l) => /\berr(or)?\b|ERR!|YN0028|ENOTFOUND|E404|failed|not found|forbidden/i.test(l));
    const cause = (errors.length ? errors : lines).slice(-2).join(" | ");
    throw new Error(
      `dependency install failed (${cmd}, exit ${err.exitCode}): ${cause}: run \`${cmd}\` in the project to see the whole output`,
    );
  }
  throw err;
}

/**
 * A failed exec. By shape, not `instanceof`: in module mode @dagger.io/dagger exports the module API and the
 * generated client only (no error classes), as the official TypeScript runtime's sdk/index.ts does.
 */
function isExecError(err: unknown): err is ExecError {
  return err instanceof Error && Array.isArray((err as ExecError).cmd) && typeof (err as ExecError).exitCode === "number";
}

function lastLines(output: string, n = 3): string {
  return output.trim().split("\n").slice(-n).join(" | ");
}
