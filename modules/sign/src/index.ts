/**
 * Signing by cosign: a signature on the image digest, attestations for the SBOM (CycloneDX), SLSA provenance v1
 * and the vulnerability scan that passed, and their verification against the public key. Offline there is no transparency log: tlog=false
 * (the default) signs without uploading and verifies without Rekor; tlog=true is for the public-good instance.
 */
import { dag, type Container, File, func, object, ReturnType, Secret, Service } from "@dagger.io/dagger";
import { StageResult } from "./result.ts";


/** cosign, by its upstream image name (served by the mirror offline). */
export const COSIGN_IMAGE = "gcr.io/projectsigstore/cosign:v2.6.5";
const REGISTRY_ALIAS = "registry";

/** The attestation types Slipway writes and checks. */
export const ATTESTATIONS = { sbom: "cyclonedx", provenance: "slsaprovenance1", scan: "vuln" } as const;

@object()
export class Sign {
  @func() image: string;

  constructor(image: string = COSIGN_IMAGE) {
    this.image = image;
  }

  /**
   * Signs ref (repository@sha256:...) with the key and attests the SBOM, the provenance and the passed
   * vulnerability scan (the scan module's vuln-attestation.json) when given.
   * registry: a tunnel to a registry only the caller's host reaches (e.g. tcp://localhost:5000); refs naming
   * localhost or 127.0.0.1 go through it.
   */
  @func({ cache: "never" })
  async sign(ref: string, key: Secret, password: Secret, sbom?: File, provenance?: File, registry?: Service, tlog = false, scan?: File): Promise<string> {
    if (!/@sha256:[0-9a-f]{64}$/.test(ref)) throw new Error(`sign needs a digest reference (repository@sha256:...), not "${ref}": sign what publish returned`);
    const { ctr: base, target } = await this.cosign(ref, registry);
    let ctr = base.withMountedSecret("/keys/cosign.key", key).withSecretVariable("COSIGN_PASSWORD", password);
    const common = ["--key", "/keys/cosign.key", "--yes", "--allow-http-registry", `--tlog-upload=${tlog}`];
    const steps: string[][] = [["sign", ...common, target]];
    if (sbom) {
      ctr = ctr.withMountedFile("/in/sbom.cdx.json", sbom);
      steps.push(["attest", ...common, "--type", ATTESTATIONS.sbom, "--predicate", "/in/sbom.cdx.json", target]);
    }
    if (provenance) {
      ctr = ctr.withMountedFile("/in/provenance.json", provenance);
      steps.push(["attest", ...common, "--type", ATTESTATIONS.provenance, "--predicate", "/in/provenance.json", target]);
    }
    if (scan) {
      ctr = ctr.withMountedFile("/in/vuln.json", scan);
      steps.push(["attest", ...common, "--type", ATTESTATIONS.scan, "--predicate", "/in/vuln.json", target]);
    }
    for (const args of steps) {
      ctr = ctr.withExec(args, { useEntrypoint: true, expect: ReturnType.Any });
      if ((await ctr.exitCode()) !== 0) {
        throw new Error(`cosign ${args[0]} ${ref} failed: ${lastLines(await ctr.stderr())}: check the key, its password and that the registry accepts pushes`);
      }
    }
    return `signed ${ref}${sbom ? ", SBOM attested" : ""}${provenance ? ", provenance attested" : ""}${scan ? ", scan attested" : ""}`;
  }

  /**
   * Verifies the signature and the SBOM, provenance and vulnerability-scan attestations of ref (a tag is resolved
   * first): an image signed without a passing scan is refused.
   */
  @func({ cache: "never" })
  async verify(ref: string, publicKey: File, registry?: Service, tlog = false): Promise<StageResult> {
    const { ctr: base, target } = await this.cosign(ref, registry);
    const ctr = base.withMountedFile("/keys/cosign.pub", publicKey);
    const common = ["--key", "/keys/cosign.pub", "--allow-http-registry", "--allow-insecure-registry", `--insecure-ignore-tlog=${!tlog}`, "--output", "json"];
    const checks: [string, string[]][] = [
      ["signature", ["verify", ...common, target]],
      ["SBOM attestation", ["verify-attestation", ...common, "--type", ATTESTATIONS.sbom, target]],
      ["provenance attestation", ["verify-attestation", ...common, "--type", ATTESTATIONS.provenance, target]],
      ["vulnerability scan attestation (was it scanned?)", ["verify-attestation", ...common, "--type", ATTESTATIONS.scan, target]],
    ];
    let reports = dag.directory();
    for (const [what, args] of checks) {
      const run = ctr.withExec(args, { useEntrypoint: true, expect: ReturnType.Any });
      const [code, stdout, stderr] = await Promise.all([run.exitCode(), run.stdout(), run.stderr()]);
      reports = reports.withNewFile(`cosign-${args[0]}${args.includes("--type") ? `-${args[args.indexOf("--type") + 1]}` : ""}.json`, stdout);
      if (code !== 0) {
        return new StageResult("verify", "failed", `verify: failed, no valid ${what} for ${ref} with this key: ${lastLines(stderr, 1)}`, args.join(" "), code, stderr, reports);
      }
    }
    return new StageResult("verify", "passed", `verify: passed (signature, SBOM, provenance and scan attestations of ${ref})`, "cosign verify", 0, "", reports);
  }

  /** The public key of a private key (cosign public-key), to verify what was just signed. */
  @func()
  publicKey(key: Secret, password: Secret): File {
    return dag.container().from(this.image)
      // the engine keys a cached exec on secret names, not values: never reuse another key's public half
      .withEnvVariable("SLIPWAY_RUN", `${Date.now()}-${Math.random()}`)
      .withMountedSecret("/keys/cosign.key", key)
      .withSecretVariable("COSIGN_PASSWORD", password)
      .withExec(["public-key", "--key", "/keys/cosign.key", "--outfile", "/tmp/cosign.pub"], { useEntrypoint: true })
      .file("/tmp/cosign.pub");
  }

  /** A key pair: cosign.key (encrypted with password) and cosign.pub. */
  @func({ cache: "never" })
  generateKeyPair(password: Secret): Container {
    return dag.container().from(this.image)
      .withWorkdir("/keys")
      .withEnvVariable("SLIPWAY_RUN", `${Date.now()}-${Math.random()}`) // a fresh key every time, never a cached one
      .withSecretVariable("COSIGN_PASSWORD", password)
      .withExec(["generate-key-pair"], { useEntrypoint: true });
  }

  /** cosign with the registry reachable: refs on the caller's loopback go through the tunnel. */
  private async cosign(ref: string, registry?: Service): Promise<{ ctr: Container; target: string }> {
    let ctr = dag.container().from(this.image).withEnvVariable("HOME", "/tmp")
      // signing pushes and verifying reads the registry's current state: never served from cache
      .withEnvVariable("SLIPWAY_RUN", `${Date.now()}-${Math.random()}`);
    let target = ref;
    const m = /^(localhost|127\.0\.0\.1)(:\d+)?\//.exec(ref);
    if (m) {
      if (!registry) throw new Error(`${ref} is on this host's loopback: pass the registry as a service (--registry tcp://localhost${m[2] ?? ""})`);
      ctr = ctr.withServiceBinding(REGISTRY_ALIAS, registry);
      target = `${REGISTRY_ALIAS}${m[2] ?? ""}/${ref.slice(m[0].length)}`;
    }
    return { ctr, target };
  }
}

function lastLines(text: string, n = 2): string {
  return text.trim().split("\n").filter(Boolean).slice(-n).join(" | ");
}
