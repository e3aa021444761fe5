/**
 * `slipway release`: the supply-chain stages on a source, in order: publish (build once, tag by SHA), SBOM, scan
 * (vulnerabilities with the policy gate, secrets), sign and attest (SBOM, SLSA provenance), verify. A failing
 * gate stops the later stages: nothing unscanned gets signed. Also `slipway verify REF` and `slipway keys`.
 */
import { connection, dag } from "@dagger.io/dagger";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { StageResult } from "../../modules/node/src/index.ts";
import { parseScanner } from "../../modules/scan/src/index.ts";
import { Sign } from "../../modules/sign/src/index.ts";
import { useEngine } from "../platform/connection.ts";
import { waitForTools } from "../platform/tools.ts";
import { keyDir, keyFileModes, runStages } from "./pipeline.ts";
import { loopback } from "./deployments.ts";
import { secretFromEnv } from "./publish.ts";

export const RELEASE_HELP = `Usage: slipway release [--source DIR] --key FILE --password-env VAR [--repository REGISTRY/PATH]
                       [--scanner trivy|osv-scanner] [--vuln-db DIR] [--fail-on SEVERITY] [--allowlist FILE]
                       [--reports DIR] [--allow-dirty]
       slipway verify REF --public-key FILE
       slipway keys --out DIR --password-env VAR

release: publish, sbom, scan (Trivy, or OSV-Scanner, on the image and lockfiles; gitleaks on the source), sign
and attest (SBOM, SLSA provenance v1), verify. --vuln-db: an offline database for the scanner (Trivy: a cache
directory holding db/trivy.db; OSV-Scanner: osv-scalibr/<ecosystem>/all.zip) or a directory of OSV advisories per
ecosystem (npm/GHSA-....json) to build one from; default $SLIPWAY_VULN_DB. Without one the scanner downloads its
own. --fail-on: low, medium, high (default) or critical.
--allowlist: JSON [{"id", "package"?, "reason", "expires": "YYYY-MM-DD"}].
A source with uncommitted changes is not signed: commit them, or pass --allow-dirty (the provenance then says so).
keys: cosign.key (mode 600, encrypted with the password) and cosign.pub in DIR (mode 700).
`;

function hostFile(path: string, what: string) {
  return dag
    .host()
    .file(resolve(path), { noCache: true })
    .sync()
    .catch(() => {
      throw new Error(`${what} ${path} does not exist or is not a file: check the path`);
    });
}

/** The supply-chain part of the pipeline's DAG: build (publish), sbom, scan, secrets, sign, verify. */
const RELEASE_SKIP = ["lint", "typecheck", "test", "integration"];

export async function runRelease(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      source: { type: "string", default: "." },
      repository: { type: "string" },
      key: { type: "string" },
      "password-env": { type: "string" },
      scanner: { type: "string", default: "trivy" },
      "vuln-db": { type: "string" },
      "fail-on": { type: "string", default: "high" },
      allowlist: { type: "string" },
      reports: { type: "string", default: "reports" },
      "allow-no-commit": { type: "boolean", default: false },
      "allow-dirty": { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(RELEASE_HELP);
    return 0;
  }
  const scanner = parseScanner(values.scanner!, "--scanner");
  if (!values.key)
    throw new Error("--key FILE is required: the cosign private key (make one with `slipway keys --out DIR --password-env VAR`)");
  const vulnDb = values["vuln-db"] ?? process.env.SLIPWAY_VULN_DB;
  const { runs } = await runStages(
    {
      source: resolve(values.source!),
      reports: resolve(values.reports!),
      until: "verify",
      skip: RELEASE_SKIP,
      key: values.key,
      passwordEnv: values["password-env"],
      repository: values.repository,
      allowNoCommit: values["allow-no-commit"]!,
      allowDirty: values["allow-dirty"]!,
      scanner,
      vulnDb,
      failOn: values["fail-on"]!,
      allowlist: values.allowlist,
    },
    (r) => {
      if (r.status === "skipped") return;
      process.stdout.write(`${r.stage === "build" ? r.message.replace(/^build:/, "publish:") : r.message}\n`);
    },
  );
  const failed = runs.filter((r) => r.status === "failed");
  const signed = runs.some((r) => r.stage === "sign" && r.status === "passed");
  process.stdout.write(
    failed.length
      ? `release: failed at ${failed.map((r) => r.stage).join(", ")}${signed ? "" : "; nothing was signed"}\n`
      : "release: passed\n",
  );
  return failed.length ? 1 : 0;
}

export async function runVerify(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { "public-key": { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    process.stdout.write(RELEASE_HELP);
    return 0;
  }
  const ref = positionals[0];
  if (!ref) throw new Error("verify needs an image reference: slipway verify REGISTRY/PATH@sha256:... --public-key FILE");
  if (!values["public-key"]) throw new Error("--public-key FILE is required (cosign.pub)");
  await useEngine({ quiet: true, check: false });
  await waitForTools(["cosign"]);
  let result: StageResult | undefined;
  await connection(async () => {
    result = await new Sign().verify(ref, await hostFile(values["public-key"]!, "--public-key"), loopback(`http://${ref.split("/")[0]}`));
  });
  process.stdout.write(`${result!.message}\n`);
  return result!.status === "passed" ? 0 : 1;
}

export async function runKeys(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { out: { type: "string" }, "password-env": { type: "string" } } });
  if (!values.out) throw new Error("--out DIR is required: where cosign.key and cosign.pub go");
  const out = keyDir(resolve(values.out), "--out"); // 0700 before a key is in it
  await useEngine({ quiet: true, check: false });
  await waitForTools(["cosign"]);
  await connection(async () => {
    const ctr = await new Sign().generateKeyPair(secretFromEnv(values["password-env"], "--password-env"));
    await ctr.file("/keys/cosign.key").export(resolve(out, "cosign.key"));
    await ctr.file("/keys/cosign.pub").export(resolve(out, "cosign.pub"));
  });
  keyFileModes(out);
  process.stdout.write(`keys: ${out}/cosign.key (encrypted with the password) and ${out}/cosign.pub\n`);
  return 0;
}
