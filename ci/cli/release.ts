/**
 * `slipway release`: the supply-chain stages on a source, in order: publish (build once, tag by SHA), SBOM, scan
 * (vulnerabilities with the policy gate, secrets), sign and attest (SBOM, SLSA provenance), verify. A failing
 * gate stops the later stages: nothing unscanned gets signed. Also `slipway verify REF` and `slipway keys`.
 */
import { connection, dag, type Directory, type Service } from "@dagger.io/dagger";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { EXCLUDE, type StageResult } from "../../modules/node/src/index.ts";
import { Sbom } from "../../modules/sbom/src/index.ts";
import { parseScanner, Scan, type Scanner } from "../../modules/scan/src/index.ts";
import { provenance, Sign } from "../../modules/sign/src/index.ts";
import { Image } from "../../modules/image/src/index.ts";
import { DAGGER_VERSION } from "./engine/versions.ts";
import { useEngine } from "./engine/connection.ts";
import { commitOf } from "./git.ts";
import { publishSource, secretFromEnv } from "./publish.ts";
import { exportReports, hostTunnel } from "./stages.ts";

export const RELEASE_HELP = `Usage: slipway release [--source DIR] --key FILE --password-env VAR [--repository REGISTRY/PATH]
                       [--scanner trivy|osv-scanner] [--vuln-db DIR] [--fail-on SEVERITY] [--allowlist FILE]
                       [--reports DIR]
       slipway verify REF --public-key FILE
       slipway keys --out DIR --password-env VAR

release: publish, sbom, scan (Trivy, or OSV-Scanner, on the image and lockfiles; gitleaks on the source), sign
and attest (SBOM, SLSA provenance v1), verify. --vuln-db: an offline database for the scanner (Trivy: a cache
directory holding db/trivy.db; OSV-Scanner: osv-scalibr/<ecosystem>/all.zip) or a directory of OSV advisories per
ecosystem (npm/GHSA-....json) to build one from; default $SLIPWAY_VULN_DB. Without one the scanner downloads its
own. --fail-on: low, medium, high (default) or critical.
--allowlist: JSON [{"id", "package"?, "reason", "expires": "YYYY-MM-DD"}].
`;

/** A host-side registry on loopback, tunnelled for the containers that push to or read from it. */
function registryTunnel(ref: string): Service | undefined {
  const m = /^(localhost|127\.0\.0\.1):(\d+)\//.exec(ref);
  return m ? hostTunnel(m[1], Number(m[2])) : undefined;
}

function hostFile(path: string, what: string) {
  return dag.host().file(resolve(path), { noCache: true }).sync().catch(() => {
    throw new Error(`${what} ${path} does not exist or is not a file: check the path`);
  });
}

/**
 * --vuln-db DIR: a database as the scanner stores one (Trivy: db/trivy.db; OSV-Scanner:
 * osv-scalibr/<ecosystem>/all.zip), or a directory of OSV advisories per ecosystem (npm/GHSA-....json), which
 * Scan.database builds one from with the scanner's own tooling.
 */
function vulnDatabase(path: string, scanner: Scanner): Directory {
  if (!existsSync(path)) throw new Error(`--vuln-db ${path} does not exist: pass a ${scanner} database or a directory of OSV advisories per ecosystem`);
  const dir = dag.host().directory(path);
  const built = scanner === "trivy" ? existsSync(join(path, "db", "trivy.db")) : existsSync(join(path, "osv-scalibr"));
  return built ? dir : new Scan().database(dir, scanner);
}

interface Line { stage: string; result: StageResult | { status: string; message: string } }

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
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(RELEASE_HELP);
    return 0;
  }
  const scanner = parseScanner(values.scanner!, "--scanner");
  if (!values.key) throw new Error("--key FILE is required: the cosign private key (make one with `slipway keys --out DIR --password-env VAR`)");
  const source = resolve(values.source!);
  await useEngine({ quiet: true, check: false });
  const lines: Line[] = [];
  const say = (stage: string, result: Line["result"]) => {
    lines.push({ stage, result });
    process.stdout.write(`${result.message}\n`);
  };
  await connection(async () => {
    const keyText = await (await hostFile(values.key!, "--key")).contents();
    // named by content: the engine tells secrets apart by name (the key is encrypted; its hash reveals nothing)
    const key = dag.setSecret(`cosign-key-${createHash("sha256").update(keyText).digest("hex").slice(0, 16)}`, keyText);
    const password = secretFromEnv(values["password-env"], "--password-env");
    const vulnDbPath = values["vuln-db"] ?? process.env.SLIPWAY_VULN_DB;
    const vulnDb = vulnDbPath ? vulnDatabase(resolve(vulnDbPath), scanner) : undefined;
    const allowlist = values.allowlist ? await hostFile(values.allowlist, "--allowlist") : undefined;
    const dir = dag.host().directory(source, { exclude: EXCLUDE });
    const commit = await commitOf(source);

    const started = new Date().toISOString();
    const published = await publishSource(source, { repository: values.repository, allowNoCommit: values["allow-no-commit"], commit });
    say("publish", { status: "passed", message: `publish: ${published.ref}` });
    const image = dag.container().from(published.ref);

    const sbom = new Sbom().generate(image, published.ref);
    await sbom.export(resolve(values.reports!, "sbom"));
    say("sbom", { status: "passed", message: `sbom: CycloneDX and SPDX in ${resolve(values.reports!, "sbom")}` });

    const scan = new Scan();
    const [vulns, secrets] = await Promise.all([
      scan.vulnerabilities(image, dir, vulnDb, values["fail-on"], allowlist, "", scanner),
      scan.secrets(dir),
    ]);
    for (const r of [vulns, secrets]) {
      await exportReports(r, values.reports!);
      say(r.stage, r);
    }
    if (vulns.status === "failed" || secrets.status === "failed") return;

    const predicate = provenance({
      image: published.ref, sourceUrl: commit?.source ?? "", revision: commit?.revision ?? "", dockerfile: new Image().dockerfile,
      baseImages: published.baseImages, builder: `https://slipway.dev/builder/dagger@${DAGGER_VERSION}`,
      startedOn: started, finishedOn: new Date().toISOString(), invocationId: `${published.digest}@${started}`,
    });
    const provFile = dag.directory().withNewFile("provenance.json", JSON.stringify(predicate, null, 2)).file("provenance.json");
    const sign = new Sign();
    const tunnel = registryTunnel(published.ref);
    say("sign", { status: "passed", message: `sign: ${await sign.sign(published.ref, key, password, sbom.file("sbom.cdx.json"), provFile, tunnel)}` });
    mkdirSync(resolve(values.reports!, "sign"), { recursive: true });
    writeFileSync(resolve(values.reports!, "sign/provenance.json"), JSON.stringify(predicate, null, 2) + "\n");
    const verified = await sign.verify(published.ref, sign.publicKey(key, password), tunnel);
    await exportReports(verified, values.reports!);
    say("verify", verified);
  });
  const failed = lines.filter((l) => l.result.status === "failed");
  const signed = lines.some((l) => l.stage === "sign");
  process.stdout.write(failed.length ? `release: failed at ${failed.map((l) => l.stage).join(", ")}${signed ? "" : "; nothing was signed"}\n` : "release: passed\n");
  return failed.length ? 1 : 0;
}

export async function runVerify(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { "public-key": { type: "string" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    process.stdout.write(RELEASE_HELP);
    return 0;
  }
  const ref = positionals[0];
  if (!ref) throw new Error("verify needs an image reference: slipway verify REGISTRY/PATH@sha256:... --public-key FILE");
  if (!values["public-key"]) throw new Error("--public-key FILE is required (cosign.pub)");
  await useEngine({ quiet: true, check: false });
  let result: StageResult | undefined;
  await connection(async () => {
    result = await new Sign().verify(ref, await hostFile(values["public-key"]!, "--public-key"), registryTunnel(ref));
  });
  process.stdout.write(`${result!.message}\n`);
  return result!.status === "passed" ? 0 : 1;
}

export async function runKeys(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { out: { type: "string" }, "password-env": { type: "string" } } });
  if (!values.out) throw new Error("--out DIR is required: where cosign.key and cosign.pub go");
  await useEngine({ quiet: true, check: false });
  const out = resolve(values.out);
  await connection(async () => {
    const ctr = new Sign().generateKeyPair(secretFromEnv(values["password-env"], "--password-env"));
    await ctr.file("/keys/cosign.key").export(resolve(out, "cosign.key"));
    await ctr.file("/keys/cosign.pub").export(resolve(out, "cosign.pub"));
  });
  process.stdout.write(`keys: ${out}/cosign.key (encrypted with the password) and ${out}/cosign.pub\n`);
  return 0;
}
