/**
 * Slipway's root module: the stages a user calls (`dagger call lint`, `dagger check`) and the pipeline through
 * verify (`dagger call pipeline`), delegating to the concern modules (whose own functions, e.g. reports, are
 * `dagger call -m modules/node test --source=. reports export --path=reports`). The slipway CLI (ci/cli) calls
 * the very same classes and stage code (stages.ts) in client mode.
 */
import { argument, check, dag, Directory, File, func, object, Secret, Service } from "@dagger.io/dagger";
import { markdown, mergedJunit, PIPELINE, report, runDag, select, type StageRun } from "./dag.ts";
import { deps, type StageResultObject } from "./deps.ts";
import { publicUrl } from "./provenance.ts";
import { dirtyRefusal, stageRunners, type StageContext } from "./stages.ts";

/** The stages module mode runs: deploys need the host's targets and keys, so `slipway pipeline` runs those. */
const THROUGH_VERIFY = PIPELINE.slice(0, PIPELINE.findIndex((s) => s.name === "verify") + 1);

@object()
export class Slipway {
  repository = "";
  registry?: Service;
  registryMirror?: Service;
  registryUsername = "";
  registryPassword?: Secret;
  key?: Secret;
  password?: Secret;
  revision = "";
  created = "";
  sourceUrl = "";
  dirty = false;
  scanner = "trivy";
  failOn = "high";
  vulnDb?: Directory;
  allowlist?: File;

  /** Lint the project; fails with file:line of each error. */
  @func()
  @check()
  async lint(
    @argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory,
  ): Promise<string> {
    return verdict(deps.node().lint({ source }));
  }

  /** Type-check the project; fails with file:line of each error. */
  @func()
  @check()
  async typecheck(
    @argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory,
  ): Promise<string> {
    return verdict(deps.node().typecheck({ source }));
  }

  /** Run the unit tests; fails with the names of the failing tests. */
  @func()
  @check()
  async test(
    @argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory,
  ): Promise<string> {
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
   * Where the image is pushed (REGISTRY/PATH); registry: that registry as the containers reach it (e.g.
   * tcp://localhost:5000 for a local one); registryMirror: a docker.io mirror for the integration stage's Docker
   * engine; username and password: for a registry that takes pushes only with credentials (Slipway's local
   * registry: slipway and the password in /var/cache/slipway/registry-private/credentials.json).
   */
  @func()
  withRegistry(repository: string, registry?: Service, registryMirror?: Service, username = "", password?: Secret): Slipway {
    return this.with({ repository, registry, registryMirror, registryUsername: username, registryPassword: password });
  }

  /** The cosign key the image is signed with, and its password. */
  @func()
  withSigningKey(key: Secret, password: Secret): Slipway {
    return this.with({ key, password });
  }

  /**
   * The commit the source is (the image's labels and tags, the provenance): its SHA, time (RFC 3339) and URL (kept
   * without credentials: https://user:TOKEN@host/r.git becomes https://host/r.git). dirty: the source has changes
   * the commit does not hold (the module sees no .git: pass true when `git status --porcelain` prints anything);
   * such a source is signed only with pipeline --allow-dirty, and its provenance says so.
   */
  @func()
  withCommit(revision: string, created = "", sourceUrl = "", dirty = false): Slipway {
    if (!/^[0-9a-f]{7,64}$/.test(revision))
      throw new Error(`revision ${JSON.stringify(revision)} is not a commit SHA: pass \`git rev-parse HEAD\``);
    return this.with({ revision, created, sourceUrl: publicUrl(sourceUrl), dirty });
  }

  /**
   * The vulnerability scan's policy: the scanner (trivy or osv-scanner), the lowest severity that fails the
   * scan, a vulnerability database (offline: see `-m modules/scan call database`) and an allowlist file.
   */
  @func()
  withScanPolicy(scanner = "trivy", failOn = "high", vulnDb?: Directory, allowlist?: File): Slipway {
    return this.with({ scanner, failOn, vulnDb, allowlist });
  }

  /**
   * The pipeline through verify on source, as set up by the withX functions (withRegistry and withSigningKey are
   * needed from build on): lint, typecheck, test, integration, build (pushed, tagged by the commit), sbom, scan,
   * secrets, sign and verify; independent stages in parallel, a failure skipping what comes after it. Returns the
   * reports (pipeline.md, pipeline.json, junit.xml and each stage's own directory); fails naming the stage and the
   * reason unless allowFailure, then pipeline.json says how it went. until/skip: run a part; allowNoCommit: build
   * a source with no commit (tagged by its content digest); allowDirty: sign a source withCommit marked dirty (refused
   * otherwise).
   */
  @func({ cache: "never" })
  async pipeline(
    @argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory,
    until = "verify",
    skip: string[] = [],
    allowNoCommit = false,
    allowFailure = false,
    allowDirty = false,
  ): Promise<Directory> {
    const chosen = select(THROUGH_VERIFY, until, skip);
    if (["build", "sbom", "scan", "sign", "verify"].some((s) => chosen.has(s)) && !this.repository) {
      throw new Error(
        "the pipeline builds and pushes an image: call with-registry --repository=REGISTRY/PATH first (or pass --until integration)",
      );
    }
    if (["sign", "verify"].some((s) => chosen.has(s)) && !(this.key && this.password)) {
      throw new Error(
        "the pipeline signs the image: call with-signing-key --key=file:cosign.key --password=env:VAR first (or pass --until scan)",
      );
    }
    if (chosen.has("sign") && this.dirty && !allowDirty) throw new Error(dirtyRefusal());
    const started = new Date();
    const registry = this.registry;
    const ctx: StageContext = {
      dir: source,
      commit: this.revision ? { revision: this.revision, created: this.created, source: this.sourceUrl, dirty: this.dirty } : undefined,
      repository: this.repository,
      allowNoCommit,
      allowDirty,
      key: this.key,
      password: this.password,
      scanner: this.scanner,
      vulnDb: this.vulnDb,
      failOn: this.failOn,
      allowlist: this.allowlist,
      registryMirror: this.registryMirror,
      registry: () => registry,
      registryAuth: this.registryPassword ? { username: this.registryUsername, password: this.registryPassword } : undefined,
      // the engine that builds: its own version, as it reports it
      builder: `https://slipway.dev/builder/dagger@${await dag.version()}`,
      started: started.toISOString(),
    };
    const runners = stageRunners(ctx);
    let reports = dag.directory();
    const runs: StageRun[] = await runDag(THROUGH_VERIFY, chosen, async (stage) => {
      const t0 = Date.now();
      const { reports: files, ...line } = await runners[stage]();
      for (const [dir, d] of Object.entries(files)) reports = reports.withDirectory(dir, d);
      return { ...line, seconds: (Date.now() - t0) / 1000 };
    });
    const rep = report({ source: this.sourceUrl || "source", revision: this.revision, started, runs, image: ctx.published?.ref });
    reports = reports
      .withNewFile("pipeline.md", markdown(rep))
      .withNewFile("pipeline.json", JSON.stringify(rep, null, 2) + "\n")
      .withNewFile("junit.xml", mergedJunit(runs));
    if (rep.status === "failed" && !allowFailure) throw new Error(`failed at ${rep.failure!.stage}: ${rep.failure!.message}`);
    return reports;
  }

  private with(changes: Partial<Slipway>): Slipway {
    return Object.assign(Object.create(Slipway.prototype) as Slipway, this, changes);
  }
}

/** A check passes by returning and fails by throwing: "not configured" is reported, not failed. */
async function verdict(r: StageResultObject): Promise<string> {
  const [status, message] = await Promise.all([r.status(), r.message()]);
  if (status === "failed") throw new Error(message);
  return message;
}
