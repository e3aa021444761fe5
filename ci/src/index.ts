/**
 * Slipway's root module: the stages a user calls (`dagger call lint`, `dagger check`) and the pipeline through
 * verify (`dagger call pipeline`), delegating to the concern modules (whose own functions, e.g. reports, are
 * `dagger call -m modules/node test --source=. reports export --path=reports`). The slipway CLI (ci/cli) calls
 * the very same classes and stage code (stages.ts) in client mode.
 */
import { argument, check, dag, Directory, File, func, object, Secret, Service } from "@dagger.io/dagger";
import { DAGGER_VERSION } from "../platform/versions.ts";
import { markdown, mergedJunit, PIPELINE, report, runDag, select, type StageRun } from "./dag.ts";
import { deps, type StageResultObject } from "./deps.ts";
import { stageRunners, type StageContext } from "./stages.ts";

/** The stages module mode runs: deploys need the host's targets and keys, so `slipway pipeline` runs those. */
const THROUGH_VERIFY = PIPELINE.slice(0, PIPELINE.findIndex((s) => s.name === "verify") + 1);

@object()
export class Slipway {
  /** Lint the project; fails with file:line of each error. */
  @func()
  @check()
  async lint(@argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory): Promise<string> {
    return verdict(deps.node().lint({ source }));
  }

  /** Type-check the project; fails with file:line of each error. */
  @func()
  @check()
  async typecheck(@argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory): Promise<string> {
    return verdict(deps.node().typecheck({ source }));
  }

  /** Run the unit tests; fails with the names of the failing tests. */
  @func()
  @check()
  async test(@argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory): Promise<string> {
    return verdict(deps.node().test({ source }));
  }

  /**
   * Run the integration tests ("test:integration") with a Docker engine for Testcontainers; fails with the names
   * of the failing tests. registryMirror: a docker.io mirror for that engine (e.g. tcp://localhost:5000 offline).
   */
  @func()
  @check()
  async integration(
    @argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory,
    registryMirror?: Service,
    noCache = false,
  ): Promise<string> {
    return verdict(deps.node().integration({ source, registryMirror, noCache }));
  }

  /**
   * The pipeline through verify: lint, typecheck, test, integration, build (pushed to repository, tagged by
   * revision), sbom, scan, secrets, sign and verify; independent stages in parallel, a failure skipping what
   * comes after it. Returns the reports (pipeline.md, pipeline.json, junit.xml and each stage's own directory);
   * fails naming the stage and the reason unless allowFailure, then pipeline.json says how it went.
   * registry: the registry as the signing containers reach it (e.g. tcp://localhost:5000 for a local one).
   */
  @func({ cache: "never" })
  async pipeline(
    @argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory,
    repository: string,
    key: Secret,
    password: Secret,
    revision = "",
    created = "",
    sourceUrl = "",
    allowNoCommit = false,
    until = "verify",
    skip: string[] = [],
    scanner = "trivy",
    failOn = "high",
    vulnDb?: Directory,
    allowlist?: File,
    registry?: Service,
    registryMirror?: Service,
    allowFailure = false,
  ): Promise<Directory> {
    const chosen = select(THROUGH_VERIFY, until, skip);
    const started = new Date();
    const ctx: StageContext = {
      dir: source, commit: revision ? { revision, created, source: sourceUrl, dirty: false } : undefined, repository, allowNoCommit,
      key, password, scanner, vulnDb, failOn, allowlist, registryMirror, registry: () => registry,
      builder: `https://slipway.dev/builder/dagger@${DAGGER_VERSION}`, started: started.toISOString(),
    };
    const runners = stageRunners(ctx);
    let reports = dag.directory();
    const runs: StageRun[] = await runDag(THROUGH_VERIFY, chosen, async (stage) => {
      const t0 = Date.now();
      const { reports: files, ...line } = await runners[stage]();
      for (const [dir, d] of Object.entries(files)) reports = reports.withDirectory(dir, d);
      return { ...line, seconds: (Date.now() - t0) / 1000 };
    });
    const rep = report(sourceUrl || "source", revision, started, runs, ctx.published?.ref);
    reports = reports.withNewFile("pipeline.md", markdown(rep)).withNewFile("pipeline.json", JSON.stringify(rep, null, 2) + "\n")
      .withNewFile("junit.xml", mergedJunit(runs));
    if (rep.status === "failed" && !allowFailure) throw new Error(`failed at ${rep.failure!.stage}: ${rep.failure!.message}`);
    return reports;
  }
}

/** A check passes by returning and fails by throwing: "not configured" is reported, not failed. */
async function verdict(r: StageResultObject): Promise<string> {
  const [status, message] = await Promise.all([r.status(), r.message()]);
  if (status === "failed") throw new Error(message);
  return message;
}
