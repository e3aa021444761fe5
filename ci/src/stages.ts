/**
 * The pipeline's stages through verify as the engine runs them, whichever way in: each returns its outcome and
 * its reports as Directories keyed by their place in the reports directory. `slipway pipeline`
 * (ci/cli/pipeline.ts) exports them to the host and adds the deploy and smoke stages; the root module's
 * `pipeline` function gathers them into the Directory it returns.
 */
import { dag, type Container, type Directory, type File, type Secret, type Service } from "@dagger.io/dagger";
import { type Commit, Image, type Published } from "../../modules/image/src/index.ts";
import { Node, type StageResult } from "../../modules/node/src/index.ts";
import { Sbom } from "../../modules/sbom/src/index.ts";
import { Scan, type Scanner } from "../../modules/scan/src/index.ts";
import { provenance, Sign } from "../../modules/sign/src/index.ts";
import type { StageRun } from "./dag.ts";

/** What a stage hands back: the report line, and its report files by their directory under the reports root. */
export type StageOutput = Omit<StageRun, "seconds"> & { reports: Record<string, Directory> };

/** A run's inputs, and what earlier stages produced for later ones. */
export interface StageContext {
  dir: Directory;
  commit?: Commit;
  /** where the image is pushed (REGISTRY/PATH); unset: the build fails naming --repository */
  repository?: string;
  allowNoCommit: boolean;
  key: Secret;
  password: Secret;
  /** the public key to verify with; unset: derived from the key */
  publicKey?: File;
  scanner: Scanner;
  vulnDb?: Directory;
  failOn: string;
  allowlist?: File;
  /** the docker.io mirror the integration stage's Docker engine pulls through */
  registryMirror?: Service;
  /** the registry as the signing containers reach it, given the image's registry host */
  registry: (host: string) => Service | undefined;
  /** the builder id in the provenance */
  builder: string;
  started: string;
  published?: Published;
  image?: Container;
  sbom?: Directory;
  /** the passed scan's attestation predicate; unset when the scan did not run (verify then refuses the image) */
  scanned?: File;
}

export const CODE_STAGES = ["lint", "typecheck", "test", "integration"] as const;

/** A module function's result as a report line; its reports go under the stage's name (or `dir`). */
export async function outcome(r: StageResult, stage = r.stage, dir = stage): Promise<StageOutput> {
  const status = r.status === "passed" ? "passed" : r.status === "failed" ? "failed" : "not-configured";
  const configured = status !== "not-configured";
  // only the code stages measure it; the others report "-" (not measured, or never cached: side effects)
  const measured = (CODE_STAGES as readonly string[]).includes(stage);
  const tested = stage === "test" || stage === "integration" || stage.startsWith("smoke");
  const junit = tested && configured && (await r.reports.entries()).includes("junit.xml") ? await r.reports.file("junit.xml").contents() : undefined;
  return { stage, status, message: r.message, cached: measured && configured ? r.cached : null, junit, reports: configured ? { [dir]: r.reports } : {} };
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

/** The stages from lint to verify, on the same module classes `dagger call -m modules/<name>` runs. */
export function stageRunners(ctx: StageContext): Record<string, () => Promise<StageOutput>> {
  const node = new Node();
  return {
    lint: async () => outcome(await node.lint(ctx.dir, "")),
    typecheck: async () => outcome(await node.typecheck(ctx.dir, "")),
    test: async () => outcome(await node.test(ctx.dir, "")),
    integration: async () => outcome(await node.integration(ctx.dir, ctx.registryMirror, undefined, false)),
    async build() {
      if (!ctx.repository) throw new Error(NO_REPOSITORY);
      const c = ctx.commit;
      ctx.published = await new Image().publish(ctx.dir, ctx.repository, c?.revision ?? "", c?.created ?? "", c?.source ?? "",
        c?.dirty ?? false, ctx.allowNoCommit, "", undefined);
      ctx.image = dag.container().from(ctx.published.ref);
      return { stage: "build", status: "passed", message: `build: ${ctx.published.ref}`, cached: null, reports: {} };
    },
    async sbom() {
      ctx.sbom = new Sbom().generate(requireOutput(ctx.image, "the image"), ctx.published!.ref);
      await ctx.sbom.sync();
      return { stage: "sbom", status: "passed", message: "sbom: CycloneDX (sbom/sbom.cdx.json) and SPDX (sbom/sbom.spdx.json)", cached: null, reports: { sbom: ctx.sbom } };
    },
    async scan() {
      const r = await new Scan().vulnerabilities(requireOutput(ctx.image, "the image"), ctx.dir, ctx.vulnDb, ctx.failOn, ctx.allowlist, "", ctx.scanner);
      if (r.status === "passed") ctx.scanned = r.reports.file("vuln-attestation.json");
      return outcome(r);
    },
    secrets: async () => outcome(await new Scan().secrets(ctx.dir)),
    async sign() {
      const published = requireOutput(ctx.published, "the image");
      const predicate = JSON.stringify(provenance({
        image: published.ref, sourceUrl: ctx.commit?.source ?? "", revision: ctx.commit?.revision ?? "", dockerfile: new Image().dockerfile,
        baseImages: published.baseImages, builder: ctx.builder,
        startedOn: ctx.started, finishedOn: new Date().toISOString(), invocationId: `${published.digest}@${ctx.started}`,
      }), null, 2) + "\n";
      const dir = dag.directory().withNewFile("provenance.json", predicate);
      const signed = await new Sign().sign(published.ref, ctx.key, ctx.password, requireOutput(ctx.sbom, "the SBOM").file("sbom.cdx.json"), dir.file("provenance.json"), imageRegistry(ctx), false, ctx.scanned);
      return { stage: "sign", status: "passed", message: `sign: ${signed}`, cached: null, reports: { sign: dir } };
    },
    async verify() {
      const sign = new Sign();
      ctx.publicKey ??= sign.publicKey(ctx.key, ctx.password);
      const out = await outcome(await sign.verify(requireOutput(ctx.published, "the image").ref, ctx.publicKey, imageRegistry(ctx)));
      // for whoever deploys this image later (a CI job gated on approval): the public half only
      return { ...out, reports: { ...out.reports, sign: dag.directory().withFile("cosign.pub", ctx.publicKey) } };
    },
  };
}
