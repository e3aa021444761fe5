/**
 * The root module's `pipeline` function (what `dagger call pipeline` runs), on the real engine, the local
 * registry and the real tools: the same class the module runtime calls, given its arguments as Dagger values.
 * In-process, with client mode's bindings of the modules it calls (ci/cli/bindings.ts); module-mode.test.ts runs
 * the same function through the engine's module loading (`dagger call pipeline`); module-contract.test.ts pins the
 * signature `dagger call` shows.
 */
import { connection, dag, type Directory } from "@dagger.io/dagger";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { describe, expect, it } from "vitest";
import { Slipway } from "../src/index.ts";
import { PIPELINE } from "../src/dag.ts";
import { EXCLUDE } from "../../modules/node/src/index.ts";
import { Sign } from "../../modules/sign/src/index.ts";
import { BUNDLED_ADVISORIES, vulnDatabase } from "../cli/pipeline.ts";
import { hostTunnel, mirrorService } from "../cli/stages.ts";
import { localRegistryCredentials } from "../platform/registry.ts";
import { bindModules } from "../cli/bindings.ts";
import { copyWith, EXAMPLE, tempDir } from "./helpers.ts";

// the module classes run in this process: the dependencies they call through dag are the in-process stand-ins
bindModules();

interface Report {
  status: string;
  image?: string;
  failure?: { stage: string; message: string };
  stages: { stage: string; status: string }[];
}

/** Calls Slipway.pipeline on a source directory with a fresh key pair; exports what it returns. */
async function modulePipeline(
  src: string,
  opts: { revision?: string; created?: string; skip?: string[]; allowFailure?: boolean; allowNoCommit?: boolean },
) {
  const out = tempDir("module-reports");
  let error: string | undefined;
  await connection(async () => {
    const password = dag.setSecret(`module-test-password-${Date.now()}`, "module-test");
    const keys = await new Sign().generateKeyPair(password);
    const key = dag.setSecret(`module-test-key-${Date.now()}`, await keys.file("/keys/cosign.key").contents());
    let reports: Directory;
    try {
      let slipway = new Slipway()
        .withRegistry(
          `${process.env.SLIPWAY_REGISTRY}/module-mode/node-api`,
          hostTunnel("127.0.0.1", 5000),
          mirrorService(undefined),
          "slipway",
          dag.setSecret("local-registry-password", localRegistryCredentials()!.password),
        )
        .withSigningKey(key, password)
        .withScanPolicy("trivy", "high", await vulnDatabase(BUNDLED_ADVISORIES, "trivy"));
      if (opts.revision) slipway = slipway.withCommit(opts.revision, opts.created ?? "", "https://example.com/slipway/node-api");
      reports = await slipway.pipeline(
        dag.host().directory(src, { exclude: EXCLUDE }),
        "verify",
        opts.skip ?? [],
        opts.allowNoCommit ?? false,
        opts.allowFailure ?? false,
      );
    } catch (err) {
      error = (err as Error).message;
      return;
    }
    await reports.export(out);
  });
  const report = existsSync(join(out, "pipeline.json"))
    ? (JSON.parse(readFileSync(join(out, "pipeline.json"), "utf8")) as Report)
    : undefined;
  return { out, error, report };
}

describe("the root module's pipeline (dagger call pipeline)", () => {
  it("runs lint to verify on the example and returns the reports, the image pushed by digest and signed", async () => {
    const revision = (await $({ cwd: EXAMPLE, quiet: true })`git rev-parse HEAD`).stdout.trim();
    const created = (await $({ cwd: EXAMPLE, quiet: true })`git log -1 --format=%cI`).stdout.trim();
    const { out, error, report } = await modulePipeline(EXAMPLE, { revision, created });
    expect(error).toBeUndefined();
    const through = PIPELINE.slice(0, PIPELINE.findIndex((s) => s.name === "verify") + 1).map((s) => s.name);
    expect(report!.stages.map((s) => [s.stage, s.status])).toEqual(through.map((s) => [s, "passed"]));
    expect(report!.image).toMatch(new RegExp(`^${process.env.SLIPWAY_REGISTRY}/module-mode/node-api@sha256:[0-9a-f]{64}$`));
    for (const f of [
      "pipeline.md",
      "junit.xml",
      "test/junit.xml",
      "integration/junit.xml",
      "sbom/sbom.cdx.json",
      "sbom/sbom.spdx.json",
      "scan/findings.json",
      "secrets",
      "sign/provenance.json",
      "sign/cosign.pub",
    ])
      expect(existsSync(join(out, f)), f).toBe(true);
    const provenance = JSON.parse(readFileSync(join(out, "sign/provenance.json"), "utf8"));
    expect(JSON.stringify(provenance)).toContain(revision);
    expect(readFileSync(join(out, "junit.xml"), "utf8")).toContain(
      '<testsuite name="slipway.pipeline" tests="10" failures="0" skipped="0">',
    );
  });

  it("fails naming the stage and the reason; with allowFailure it returns the reports saying so", async () => {
    const src = copyWith("src/config.ts", (t) => t + "\nconst unusedValue = 1;\n");
    const failed = await modulePipeline(src, { skip: ["integration"], allowNoCommit: true });
    expect(failed.error).toMatch(/^failed at lint: lint: failed, 1 error\(s\): src\/config\.ts:\d+:\d+ 'unusedValue'/);
    const kept = await modulePipeline(src, { skip: ["integration"], allowNoCommit: true, allowFailure: true });
    expect(kept.error).toBeUndefined();
    expect(kept.report!.status).toBe("failed");
    expect(kept.report!.failure!.stage).toBe("lint");
    const status = Object.fromEntries(kept.report!.stages.map((s) => [s.stage, s.status]));
    expect(status).toMatchObject({ lint: "failed", sign: "skipped", verify: "skipped", integration: "skipped" });
    expect(existsSync(join(kept.out, "lint")), "lint's own reports").toBe(true);
  });
});
