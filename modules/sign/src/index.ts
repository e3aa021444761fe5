/**
 * Signing by cosign: a signature on the image digest, attestations for the SBOM (CycloneDX), SLSA provenance v1
 * and the vulnerability scan that passed, and their verification against the public key. Offline there is no transparency log: tlog=false
 * (the default) signs without uploading and verifies without Rekor; tlog=true is for the public-good instance.
 */
import { dag, type Container, File, func, object, ReturnType, Secret, Service } from "@dagger.io/dagger";
import { createHash, randomUUID } from "node:crypto";
import { StageResult } from "./result.ts";
import { signatureState, stateOf } from "./registry.ts";
import {
  canonical,
  GATES_TYPE,
  parseRequirement,
  predicates,
  type Requirement,
  requirementType,
  SMOKE_TYPE,
  unacceptedSource,
  unmet,
} from "./policy.ts";

export { GATES_TYPE, normalSource, parseRequirement, SMOKE_TYPE } from "./policy.ts";

const REGISTRY_ALIAS = "registry";

/** The attestation types Slipway writes and checks. */
export const ATTESTATIONS = {
  sbom: "cyclonedx",
  provenance: "slsaprovenance1",
  scan: "vuln",
  gates: GATES_TYPE,
  smoke: SMOKE_TYPE,
} as const;

/** The predicateType each of those attestations carries in the registry (cosign's annotation on its layer). */
const PREDICATE_TYPES: Record<keyof typeof ATTESTATIONS, string> = {
  sbom: "https://cyclonedx.org/bom",
  provenance: "https://slsa.dev/provenance/v1",
  scan: "https://cosign.sigstore.dev/attestation/vuln/v1",
  gates: GATES_TYPE,
  smoke: SMOKE_TYPE,
};

/** The image the pin table names (modules/pins, a dependency in dagger.json): one table for every module. */
function pinned(name: string): Promise<string> {
  return (dag as unknown as { pins(): { image(name: string): Promise<string> } }).pins().image(name);
}

@object()
export class Sign {
  /** The cosign image; empty: the pinned one (`dagger -m modules/pins call image --name cosign`). */
  @func() image: string;

  constructor(image: string = "") {
    this.image = image;
  }

  /**
   * Signs ref (repository@sha256:...) with the key and attests the SBOM, the provenance and the passed
   * vulnerability scan (the scan module's vuln-attestation.json) when given. A digest that already carries this
   * key's signature and those attestation types is left as it is (nothing pushed, about a second).
   * registry: a tunnel to a registry only the caller's host reaches (e.g. tcp://localhost:5000); refs naming
   * localhost or 127.0.0.1 go through it. registryUsername and registryPassword: for a registry that takes pushes
   * only with credentials (Slipway's local registry does).
   */
  @func({ cache: "never" })
  async sign(
    ref: string,
    key: Secret,
    password: Secret,
    sbom?: File,
    provenance?: File,
    registry?: Service,
    tlog = false,
    scan?: File,
    registryUsername = "",
    registryPassword?: Secret,
  ): Promise<string> {
    if (!/@sha256:[0-9a-f]{64}$/.test(ref))
      throw new Error(`sign needs a digest reference (repository@sha256:...), not "${ref}": sign what publish returned`);
    const wanted = (["sbom", "provenance", "scan"] as const).filter((t) => ({ sbom, provenance, scan })[t]);
    const attested = wanted
      .map((t) => ({ sbom: "SBOM", provenance: "provenance", scan: "scan" })[t])
      .map((w) => `, ${w} attested`)
      .join("");
    const state = tlog
      ? undefined
      : await signatureState(
          ref,
          wanted.map((t) => PREDICATE_TYPES[t]),
        );
    if (state && !state.startsWith("|")) {
      const existing = await this.check(ref, await this.publicKey(key, password), registry, tlog, wanted, state);
      if (existing.status === "passed") return `already signed by this key: ${ref}${attested} (nothing pushed)`;
    }
    const { ctr: base, target } = await this.cosign(ref, registry);
    let ctr = base.withMountedSecret("/keys/cosign.key", key).withSecretVariable("COSIGN_PASSWORD", password);
    ctr = await withPushCredentials(ctr, target, registryUsername, registryPassword);
    const common = ["--key", "/keys/cosign.key", "--yes", "--allow-http-registry", `--tlog-upload=${tlog}`];
    const steps: string[][] = [["sign", ...common, target]];
    const predicates = {
      sbom: ["/in/sbom.cdx.json", sbom],
      provenance: ["/in/provenance.json", provenance],
      scan: ["/in/vuln.json", scan],
    } as const;
    for (const t of wanted) {
      const [path, file] = predicates[t];
      ctr = ctr.withMountedFile(path, file!);
      steps.push(["attest", ...common, "--type", ATTESTATIONS[t], "--predicate", path, target]);
    }
    for (const args of steps) {
      ctr = ctr.withExec(args, { useEntrypoint: true, expect: ReturnType.Any });
      if ((await ctr.exitCode()) !== 0) {
        throw new Error(
          `cosign ${args[0]} ${ref} failed: ${lastLines(await ctr.stderr())}: check the key, its password and that the registry accepts pushes`,
        );
      }
    }
    return `signed ${ref}${attested}`;
  }

  /**
   * Verifies the signature and the SBOM, provenance and vulnerability-scan attestations of ref (a tag is resolved
   * first): an image signed without a passing scan is refused. What the registry holds for a digest is read
   * first; while it and the key stay the same, the answer comes from the engine's cache (a refusal is always
   * checked again). Cached for the caller's session only, as Image.publish is: a caller reads the result's fields
   * in queries of their own, each of which would otherwise verify again.
   */
  @func({ cache: "session" })
  async verify(
    ref: string,
    publicKey: File,
    registry?: Service,
    tlog = false,
    requires: string[] = [],
    sources: string[] = [],
  ): Promise<StageResult> {
    const all = ["sbom", "provenance", "scan"] as const;
    const required = requires.map(parseRequirement);
    const types = [...all.map((t) => PREDICATE_TYPES[t]), ...required.map(requirementType)];
    const state = tlog ? undefined : await signatureState(ref, types);
    const checked = (s: string | undefined) => this.check(ref, publicKey, registry, tlog, all, s, required, sources);
    const result = await checked(state);
    return result.status === "passed" || !state ? result : checked(undefined);
  }

  /**
   * Attests predicate (a JSON file) for ref with the key as kind "gates" (which pipeline stages passed before it
   * was signed) or "smoke" (the environment whose smoke checks this digest passed), unless an attestation of that
   * kind with the same predicate already verifies with this key (nothing pushed then).
   */
  @func({ cache: "never" })
  async attest(
    ref: string,
    key: Secret,
    password: Secret,
    kind: string,
    predicate: File,
    registry?: Service,
    registryUsername = "",
    registryPassword?: Secret,
  ): Promise<string> {
    if (!/@sha256:[0-9a-f]{64}$/.test(ref))
      throw new Error(`attest needs a digest reference (repository@sha256:...), not "${ref}": attest what publish returned`);
    if (kind !== "gates" && kind !== "smoke") throw new Error(`attest: kind ${JSON.stringify(kind)} is not one: use gates or smoke`);
    const predicateType = ATTESTATIONS[kind];
    const wanted = canonical(JSON.parse(await predicate.contents()));
    const state = await signatureState(ref, [PREDICATE_TYPES[kind]]);
    if (state && !state.startsWith("|")) {
      const { ctr, target } = await this.cosign(ref, registry, state);
      const existing = ctr
        .withMountedFile("/keys/cosign.pub", await this.publicKey(key, password))
        .withExec(["verify-attestation", ...verifyFlags(false), "--type", predicateType, target], {
          useEntrypoint: true,
          expect: ReturnType.Any,
        });
      if ((await existing.exitCode()) === 0 && predicates(await existing.stdout()).some((p) => canonical(p) === wanted)) {
        return `already attested by this key: ${predicateType} for ${ref} (nothing pushed)`;
      }
    }
    const { ctr: base, target } = await this.cosign(ref, registry);
    let ctr = base
      .withMountedSecret("/keys/cosign.key", key)
      .withSecretVariable("COSIGN_PASSWORD", password)
      .withMountedFile("/in/predicate.json", predicate);
    ctr = await withPushCredentials(ctr, target, registryUsername, registryPassword);
    const run = ctr.withExec(
      [
        "attest",
        "--key",
        "/keys/cosign.key",
        "--yes",
        "--allow-http-registry",
        "--tlog-upload=false",
        "--type",
        predicateType,
        "--predicate",
        "/in/predicate.json",
        target,
      ],
      { useEntrypoint: true, expect: ReturnType.Any },
    );
    if ((await run.exitCode()) !== 0) {
      throw new Error(
        `cosign attest ${ref} failed: ${lastLines(await run.stderr())}: check the key, its password and that the registry accepts pushes`,
      );
    }
    return `attested ${predicateType} for ${ref}`;
  }

  /**
   * The signature and the given attestation types of ref, checked with cosign in parallel. state: what the
   * registry holds for ref (see signatureState), the cache key; undefined: checked live, never from cache.
   */
  private async check(
    ref: string,
    publicKey: File,
    registry: Service | undefined,
    tlog: boolean,
    types: readonly (keyof typeof ATTESTATIONS)[],
    state: string | undefined,
    required: Requirement[] = [],
    sources: string[] = [],
  ): Promise<StageResult> {
    // keyed on the key's text, not on where the file came from: sign's check (a key derived from the private one)
    // and verify's (the public key file) of the same state then share one cached answer
    const key = dag
      .directory()
      .withNewFile("cosign.pub", await publicKey.contents())
      .file("cosign.pub");
    const common = verifyFlags(tlog);
    const what: Record<string, string> = {
      sbom: "SBOM attestation",
      provenance: "provenance attestation",
      scan: "vulnerability scan attestation (was it scanned?)",
    };
    // [what, cosign's arguments, the predicate type checked (none: the signature)]
    const checks: [string, string[], string | undefined][] = [
      ["signature", ["verify"], undefined],
      ...types.map((t): [string, string[], string] => [what[t], ["verify-attestation", "--type", ATTESTATIONS[t]], PREDICATE_TYPES[t]]),
      // what the environment requires besides: the attestations of those types are read and judged below
      ...[...new Set(required.map(requirementType))].map((t): [string, string[], string] => [
        t.endsWith("gates/v1") ? "gates attestation" : "smoke attestation",
        ["verify-attestation", "--type", t],
        t,
      ]),
    ];
    const runs = await Promise.all(
      checks.map(async ([what, [command, ...flags], type]) => {
        // each check cached on the part of the state it reads: a smoke attestation added later re-checks only smoke
        const { ctr, target } = await this.cosign(ref, registry, state === undefined ? undefined : stateOf(state, type));
        const args = [command, ...common, ...flags, target];
        const run = ctr.withMountedFile("/keys/cosign.pub", key).withExec(args, { useEntrypoint: true, expect: ReturnType.Any });
        const [code, stdout, stderr] = await Promise.all([run.exitCode(), run.stdout(), run.stderr()]);
        return { what, args, code, stdout, stderr };
      }),
    );
    let reports = dag.directory();
    for (const r of runs)
      reports = reports.withNewFile(
        `cosign-${r.args[0]}${r.args.includes("--type") ? `-${r.args[r.args.indexOf("--type") + 1]}` : ""}.json`,
        r.stdout,
      );
    const failed = runs.find((r) => r.code !== 0 && !r.args.some((a) => a.startsWith("https://slipway.dev/")));
    if (failed) {
      return StageResult.of({
        stage: "verify",
        status: "failed",
        message: `verify: failed, no valid ${failed.what} for ${ref} with this key: ${lastLines(failed.stderr, 1)}`,
        command: failed.args.join(" "),
        exitCode: failed.code,
        output: failed.stderr,
        reports,
      });
    }
    // the environment's policy: each requirement met by an attestation this key signed; the provenance's source
    const verified = (type: string) => {
      const r = runs.find((x) => x.args.includes(type));
      return r && r.code === 0 ? predicates(r.stdout) : [];
    };
    const refusals = [
      ...required.map((r) => unmet(r, verified(requirementType(r)))),
      unacceptedSource(sources, verified(ATTESTATIONS.provenance)),
    ].filter((x): x is string => x !== undefined);
    if (refusals.length) {
      return StageResult.of({
        stage: "verify",
        status: "failed",
        message: `verify: failed, ${ref} does not meet the policy: ${refusals.join("; ")}`,
        command: "cosign verify-attestation",
        exitCode: 1,
        reports,
      });
    }
    const extra = required.length
      ? ` and ${required.map((r) => (r.kind === "gates" ? `gates ${r.gates.join(",")}` : `smoke ${r.environment}`)).join(", ")}`
      : "";
    return StageResult.of({
      stage: "verify",
      status: "passed",
      message: `verify: passed (signature, SBOM, provenance and scan attestations${extra} of ${ref})`,
      command: "cosign verify",
      reports,
    });
  }

  /** The public key of a private key (cosign public-key), to verify what was just signed. */
  @func()
  async publicKey(key: Secret, password: Secret): Promise<File> {
    // the engine keys a cached exec on secret names, not values: the key's own digest tells keys apart
    const id = createHash("sha256")
      .update(await key.plaintext())
      .digest("hex");
    return dag
      .container()
      .from(await this.cosignImage())
      .withEnvVariable("SLIPWAY_KEY", id)
      .withMountedSecret("/keys/cosign.key", key)
      .withSecretVariable("COSIGN_PASSWORD", password)
      .withExec(["public-key", "--key", "/keys/cosign.key", "--outfile", "/tmp/cosign.pub"], { useEntrypoint: true })
      .file("/tmp/cosign.pub");
  }

  /** A key pair: cosign.key (encrypted with password) and cosign.pub. */
  @func({ cache: "never" })
  async generateKeyPair(password: Secret): Promise<Container> {
    return dag
      .container()
      .from(await this.cosignImage())
      .withWorkdir("/keys")
      .withEnvVariable("SLIPWAY_RUN", `${Date.now()}-${Math.random()}`) // a fresh key every time, never a cached one
      .withSecretVariable("COSIGN_PASSWORD", password)
      .withExec(["generate-key-pair"], { useEntrypoint: true });
  }

  private async cosignImage(): Promise<string> {
    return this.image || pinned("cosign");
  }

  /**
   * cosign with the registry reachable: refs on the caller's loopback go through the tunnel. Signing pushes and
   * verifying reads the registry's current state: served from cache only when keyed on that state.
   */
  private async cosign(ref: string, registry?: Service, state?: string): Promise<{ ctr: Container; target: string }> {
    let ctr = dag
      .container()
      .from(await this.cosignImage())
      .withEnvVariable("HOME", "/tmp")
      .withEnvVariable(state ? "SLIPWAY_SIGNATURES" : "SLIPWAY_RUN", state ?? `${Date.now()}-${Math.random()}`);
    let target = ref;
    const m = /^(localhost|127\.0\.0\.1)(:\d+)?\//.exec(ref);
    if (m) {
      if (!registry)
        throw new Error(`${ref} is on this host's loopback: pass the registry as a service (--registry tcp://localhost${m[2] ?? ""})`);
      ctr = ctr.withServiceBinding(REGISTRY_ALIAS, registry);
      target = `${REGISTRY_ALIAS}${m[2] ?? ""}/${ref.slice(m[0].length)}`;
    }
    return { ctr, target };
  }
}

/** cosign's flags to verify against /keys/cosign.pub with JSON output; without tlog, no transparency log is asked. */
function verifyFlags(tlog: boolean): string[] {
  return [
    "--key",
    "/keys/cosign.pub",
    "--allow-http-registry",
    "--allow-insecure-registry",
    `--insecure-ignore-tlog=${!tlog}`,
    "--output",
    "json",
  ];
}

/** ctr able to push to target's registry: the credentials as a Docker config mounted as a secret (none: as it is). */
async function withPushCredentials(ctr: Container, target: string, username: string, password?: Secret): Promise<Container> {
  if (!password) return ctr;
  return ctr.withMountedSecret("/tmp/.docker/config.json", await dockerConfig(target.split("/")[0], username, password));
}

/** A Docker config.json with the credentials for host, as a secret: cosign reads it from $HOME/.docker. */
async function dockerConfig(host: string, username: string, password: Secret): Promise<Secret> {
  const auth = Buffer.from(`${username}:${await password.plaintext()}`).toString("base64");
  return dag.setSecret(`registry-auth-${randomUUID()}`, JSON.stringify({ auths: { [host]: { auth } } }));
}

function lastLines(text: string, n = 2): string {
  return text.trim().split("\n").filter(Boolean).slice(-n).join(" | ");
}
