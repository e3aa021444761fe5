/**
 * The pipeline's stages through verify as the engine runs them, whichever way in: each returns its outcome and
 * its reports as Directories keyed by their place in the reports directory. `slipway pipeline`
 * (ci/cli/pipeline.ts) exports them to the host and adds the deploy and smoke stages; the root module's
 * `pipeline` function gathers them into the Directory it returns.
 */
import { dag, type Container, type Directory, type File, type Secret, type Service } from "@dagger.io/dagger";
import { type Finding, PIPELINE, type StageRun } from "./dag.ts";
import { deps, type FindingObject, type StageResultObject } from "./deps.ts";
import { provenance } from "./provenance.ts";

/** The commit an image is built from (its OCI labels and provenance). */
export interface Commit {
  revision: string;
  created: string;
  source: string;
  /** the source has changes the commit does not hold: signed only with allowDirty, and the provenance says so */
  dirty: boolean;
  /** how many files differ from the commit, when known */
  changes?: number;
}

/** The refusal to sign a source with uncommitted changes, as one line. */
export function dirtyRefusal(changes?: number): string {
  const n = changes ? ` (${changes} file${changes === 1 ? "" : "s"})` : "";
  return `the source has uncommitted changes${n}: commit them, or pass --allow-dirty to sign it anyway`;
}

/** The image the build published, by digest. */
export interface Published {
  ref: string;
  digest: string;
  baseImages: string[];
}

/** What a stage hands back: the report line, and its report files by their directory under the reports root. */
export type StageOutput = Omit<StageRun, "seconds"> & { reports: Record<string, Directory> };

/** A run's inputs, and what earlier stages produced for later ones. */
export interface StageContext {
  dir: Directory;
  commit?: Commit;
  /** where the image is pushed (REGISTRY/PATH); unset: the build fails naming --repository */
  repository?: string;
  allowNoCommit: boolean;
  /** sign a source with uncommitted changes (commit.dirty); without it the sign stage refuses one */
  allowDirty?: boolean;
  /** the signing key and its password (needed by sign, and by verify without publicKey) */
  key?: Secret;
  password?: Secret;
  /** the public key to verify with; unset: derived from the key */
  publicKey?: File;
  /** trivy or osv-scanner (the scan module refuses anything else) */
  scanner: string;
  vulnDb?: Directory;
  failOn: string;
  allowlist?: File;
  /** the docker.io mirror the Docker engine of integration (and of test, when its tests need one) pulls through */
  registryMirror?: Service;
  /** the project's lint / typecheck script by name (--lint-script, --typecheck-script); unset: found by name */
  lintScript?: string;
  typecheckScript?: string;
  /** the registry as the signing containers reach it, given the image's registry host */
  registry: (host: string) => Service | undefined;
  /** credentials for pushes to the image's registry (publish, sign) */
  registryAuth?: { username: string; password: Secret };
  /** where the source comes from when no commit says (client mode: file://<the source directory>), for the provenance */
  sourceUrl?: string;
  /** the builder id in the provenance */
  builder: string;
  started: string;
  published?: Published;
  image?: Container;
  sbom?: Directory;
  /** the passed scan's attestation predicate; unset when the scan did not run (verify then refuses the image) */
  scanned?: File;
  /** how each stage run so far ended (the gates attestation says which gates passed) */
  outcomes?: Record<string, string>;
}

/** The stages that gate signing (the sign stage's `after`): the gates attestation records how each ended. */
export const GATE_STAGES = PIPELINE.find((s) => s.name === "sign")!.after;

/** The gates predicate: each gate stage with how it ended ("skipped" when it did not run). No times: a rerun of the same outcomes attests nothing new. */
export function gatesPredicate(outcomes: Record<string, string> = {}): { gates: Record<string, string> } {
  return { gates: Object.fromEntries(GATE_STAGES.map((g) => [g, outcomes[g] ?? "skipped"])) };
}

export const CODE_STAGES = ["lint", "typecheck", "test", "integration"] as const;

/** A module function's result as a report line; its reports go under the stage's name (or `dir`). */
export async function outcome(r: StageResultObject, stage?: string, dir?: string): Promise<StageOutput> {
  stage ??= await r.stage();
  dir ??= stage;
  const [raw, message, cached, reports, findings] = await Promise.all([
    r.status(),
    r.message(),
    r.cached(),
    r.reports(),
    r.findings().then(readFindings),
  ]);
  const status = raw === "passed" ? "passed" : raw === "failed" ? "failed" : "not-configured";
  const configured = status !== "not-configured";
  // only the code stages measure it; the others report "-" (not measured, or never cached: side effects)
  const measured = (CODE_STAGES as readonly string[]).includes(stage);
  const tested = stage === "test" || stage === "integration" || stage.startsWith("smoke");
  const junit =
    tested && configured && (await reports.entries()).includes("junit.xml") ? await reports.file("junit.xml").contents() : undefined;
  return {
    stage,
    status,
    message,
    cached: measured && configured ? cached : null,
    junit,
    findings,
    reports: configured ? { [dir]: reports } : {},
  };
}

/** The findings' fields as values, all read in one round. */
function readFindings(found: FindingObject[]): Promise<Finding[]> {
  return Promise.all(
    found.map(async (f) => {
      const [file, line, column, rule, severity, message] = await Promise.all([
        field(f, "file"),
        field(f, "line"),
        field(f, "column"),
        field(f, "rule"),
        field(f, "severity"),
        field(f, "message"),
      ]);
      return { file, line, column, rule, severity, message };
    }),
  );
}

/** A finding's field: a call on the object from the generated client (its methods use `this`), a stand-in's value as it is. */
async function field<K extends keyof FindingObject>(f: FindingObject, key: K): Promise<Finding[K]> {
  const v = f[key] as Finding[K] | (() => Promise<Finding[K]>);
  return typeof v === "function" ? v.call(f) : v;
}

/** The build's refusal when it has nowhere to push. */
export const NO_REPOSITORY = "no --repository given and no local registry configured: pass --repository REGISTRY/PATH";

/** The registry the published image is on, as the signing containers reach it. */
export const imageRegistry = (ctx: StageContext): Service | undefined =>
  ctx.registry(requireOutput(ctx.published, "the image").ref.split("/")[0]);

export const requireOutput = <T>(value: T | undefined, what: string): T => {
  if (value === undefined) throw new Error(`${what} is missing: its stage did not run`);
  return value;
};

/** The stages from lint to verify, on the modules' functions (`dagger call -m modules/<name>` runs the same). */
export function stageRunners(ctx: StageContext): Record<string, () => Promise<StageOutput>> {
  const runners = engineStages(ctx);
  // each outcome recorded as it comes: the sign stage attests which gates passed
  return Object.fromEntries(
    Object.entries(runners).map(([stage, run]) => [
      stage,
      async () => {
        const out = await run();
        (ctx.outcomes ??= {})[stage] = out.status;
        return out;
      },
    ]),
  );
}

function engineStages(ctx: StageContext): Record<string, () => Promise<StageOutput>> {
  const node = deps.node();
  return {
    lint: () => outcome(node.lint({ source: ctx.dir, script: ctx.lintScript })),
    typecheck: () => outcome(node.typecheck({ source: ctx.dir, script: ctx.typecheckScript })),
    test: () => outcome(node.test({ source: ctx.dir, registryMirror: ctx.registryMirror })),
    integration: () => outcome(node.integration({ source: ctx.dir, registryMirror: ctx.registryMirror })),
    async build() {
      if (!ctx.repository) throw new Error(NO_REPOSITORY);
      const c = ctx.commit;
      let image = deps.image();
      if (c) image = image.withCommit(c.revision, { created: c.created, sourceUrl: c.source, dirty: c.dirty });
      if (ctx.registryAuth) image = image.withPushCredentials(ctx.registryAuth.username, ctx.registryAuth.password);
      const p = image.publish(ctx.dir, ctx.repository, {
        allowNoCommit: ctx.allowNoCommit,
        registry: ctx.registry(ctx.repository.split("/")[0]),
      });
      const [ref, digest, baseImages] = await Promise.all([p.ref(), p.digest(), p.baseImages()]);
      ctx.published = { ref, digest, baseImages };
      ctx.image = dag.container().from(ref);
      return { stage: "build", status: "passed", message: `build: ${ctx.published.ref}`, cached: null, reports: {} };
    },
    async sbom() {
      ctx.sbom = await deps.sbom().generate(requireOutput(ctx.image, "the image"), { name: ctx.published!.ref });
      await ctx.sbom.sync();
      return {
        stage: "sbom",
        status: "passed",
        message: "sbom: CycloneDX (sbom/sbom.cdx.json) and SPDX (sbom/sbom.spdx.json)",
        cached: null,
        reports: { sbom: ctx.sbom },
      };
    },
    async scan() {
      const r = deps.scan().vulnerabilities(requireOutput(ctx.image, "the image"), ctx.dir, {
        vulnDb: ctx.vulnDb,
        failOn: ctx.failOn,
        allowlist: ctx.allowlist,
        scanner: ctx.scanner,
      });
      const out = await outcome(r, "scan");
      if (out.status === "passed") ctx.scanned = (await r.reports()).file("vuln-attestation.json");
      return out;
    },
    secrets: () => outcome(deps.scan().secrets(ctx.dir), "secrets"),
    async sign() {
      if (ctx.commit?.dirty && !ctx.allowDirty) throw new Error(dirtyRefusal(ctx.commit.changes));
      const published = requireOutput(ctx.published, "the image");
      const predicate =
        JSON.stringify(
          provenance({
            image: published.ref,
            sourceUrl: ctx.commit?.source ?? ctx.sourceUrl ?? "",
            revision: ctx.commit?.revision ?? "",
            dirty: ctx.commit?.dirty ?? false,
            dockerfile: await deps.image().dockerfile(),
            baseImages: published.baseImages,
            builder: ctx.builder,
            startedOn: ctx.started,
            finishedOn: new Date().toISOString(),
            invocationId: `${published.digest}@${ctx.started}`,
          }),
          null,
          2,
        ) + "\n";
      const dir = dag.directory().withNewFile("provenance.json", predicate);
      const signed = await deps
        .sign()
        .sign(published.ref, requireOutput(ctx.key, "the signing key"), requireOutput(ctx.password, "the key's password"), {
          sbom: requireOutput(ctx.sbom, "the SBOM").file("sbom.cdx.json"),
          provenance: dir.file("provenance.json"),
          registry: imageRegistry(ctx),
          scan: ctx.scanned,
          registryUsername: ctx.registryAuth?.username,
          registryPassword: ctx.registryAuth?.password,
        });
      // which gates passed before it was signed: an environment may require some (production: test, scan, secrets)
      const gates = gatesPredicate(ctx.outcomes);
      const gatesFile = dag.directory().withNewFile("gates.json", JSON.stringify(gates, null, 2) + "\n");
      const attested = await deps
        .sign()
        .attest(
          published.ref,
          requireOutput(ctx.key, "the signing key"),
          requireOutput(ctx.password, "the key's password"),
          "gates",
          gatesFile.file("gates.json"),
          {
            registry: imageRegistry(ctx),
            registryUsername: ctx.registryAuth?.username,
            registryPassword: ctx.registryAuth?.password,
          },
        );
      const passed = Object.entries(gates.gates)
        .filter(([, o]) => o === "passed")
        .map(([g]) => g);
      const note = attested.startsWith("already") ? "gates already attested" : "gates attested";
      return {
        stage: "sign",
        status: "passed",
        message: `sign: ${signed}; ${note} (passed: ${passed.join(", ") || "none"})`,
        cached: null,
        reports: { sign: dir.withFile("gates.json", gatesFile.file("gates.json")) },
      };
    },
    async verify() {
      const sign = deps.sign();
      ctx.publicKey ??= await sign.publicKey(requireOutput(ctx.key, "the signing key"), requireOutput(ctx.password, "the key's password"));
      const out = await outcome(
        sign.verify(requireOutput(ctx.published, "the image").ref, ctx.publicKey, { registry: imageRegistry(ctx) }),
        "verify",
      );
      // for whoever deploys this image later (a CI job gated on approval): the public half only
      return { ...out, reports: { ...out.reports, sign: dag.directory().withFile("cosign.pub", ctx.publicKey) } };
    },
  };
}
