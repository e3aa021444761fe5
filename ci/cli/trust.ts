/**
 * Trust per environment, owned by whoever operates it, never by the project: which keys an environment accepts
 * images from, each for the source repositories it may sign, and which attestations it requires beyond the
 * signature, SBOM, provenance and scan (production: the gates passed and staging's smoke checks passed, for this
 * very digest). One file per environment, `$SLIPWAY_CACHE/trust/<environment>.json` (directory 0700, root), or
 * under SLIPWAY_TRUST_DIR (a CI job writes its environment's policy there from the environment's own settings).
 * `slipway trust list|add|remove|require` edits it; deploy and rollback read it.
 */
import { createHash, createPublicKey } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { normalSource, parseRequirement } from "../../modules/sign/src/policy.ts";
import { paths } from "../platform/host.ts";

export interface TrustedKey {
  /** sha256:<hex> of the key's DER SubjectPublicKeyInfo */
  fingerprint: string;
  /** the public key, PEM */
  publicKey: string;
  /** source repositories images signed by this key may come from (normalized: no credentials, no .git) */
  sources: string[];
  note: string;
  added: string;
}

export interface TrustPolicy {
  /** attestations required besides signature, SBOM, provenance and scan: "gates:test,scan,secrets", "smoke:staging" */
  requires: string[];
  keys: TrustedKey[];
}

/** What an environment requires when its policy is first written: production waits for gates and staging's smoke. */
export function defaultRequirements(environment: string): string[] {
  return environment === "production" ? ["gates:test,scan,secrets", "smoke:staging"] : [];
}

export const trustDir = () => process.env.SLIPWAY_TRUST_DIR ?? join(paths.cache, "trust");
export const trustFile = (environment: string) => join(trustDir(), `${environment}.json`);

/** The key's fingerprint: sha256 of its DER SubjectPublicKeyInfo (what `openssl pkey -pubin -outform der | sha256sum` gives). */
export function fingerprint(pem: string): string {
  let der: Buffer;
  try {
    der = createPublicKey(pem).export({ type: "spki", format: "der" });
  } catch (err) {
    throw new Error("not a PEM public key (cosign.pub holds one)", { cause: err });
  }
  return `sha256:${createHash("sha256").update(der).digest("hex")}`;
}

export function readTrust(environment: string): TrustPolicy | undefined {
  const file = trustFile(environment);
  if (!existsSync(file)) return undefined;
  try {
    const p = JSON.parse(readFileSync(file, "utf8")) as TrustPolicy;
    if (!Array.isArray(p.requires) || !Array.isArray(p.keys)) throw new Error("requires and keys must be lists");
    p.requires.forEach(parseRequirement);
    return p;
  } catch (err) {
    throw new Error(`${file} is not a trust policy (${(err as Error).message}): fix it, or remove it and run \`slipway trust add\``, {
      cause: err,
    });
  }
}

function writeTrust(environment: string, policy: TrustPolicy): void {
  const dir = trustDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const tmp = `${trustFile(environment)}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify(policy, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, trustFile(environment));
}

/**
 * Trusts a public key in an environment for images from sources (added to what it had). A `file://` source that
 * no longer exists is dropped on the way (temporary checkouts would pile up otherwise).
 */
export function trustKey(environment: string, pem: string, sources: string[], note = ""): TrustedKey {
  if (!sources.length) throw new Error("a key is trusted for the source repositories it signs: pass --source URL");
  const policy = readTrust(environment) ?? { requires: defaultRequirements(environment), keys: [] };
  const fp = fingerprint(pem);
  const live = (s: string) => !s.startsWith("file://") || existsSync(s.slice("file://".length));
  let entry = policy.keys.find((k) => k.fingerprint === fp);
  if (!entry) {
    entry = { fingerprint: fp, publicKey: pem.trim() + "\n", sources: [], note, added: new Date().toISOString() };
    policy.keys.push(entry);
  }
  entry.sources = [...new Set([...entry.sources, ...sources.map(normalSource)])].filter(live);
  if (note) entry.note = note;
  for (const k of policy.keys) k.sources = k.sources.filter(live);
  policy.keys = policy.keys.filter((k) => k.sources.length > 0 || k === entry);
  writeTrust(environment, policy);
  return entry;
}

/** What deploy verifies an image of environment against: the trusted keys (or the one named) and the requirements. */
export function trustFor(environment: string, publicKeyPem?: string): { keys: TrustedKey[]; requires: string[] } {
  const policy = readTrust(environment);
  if (!policy || policy.keys.length === 0) {
    throw new Error(
      `${environment} trusts no signing key (${trustFile(environment)}): trust the project's key with \`slipway trust add --env ${environment} --public-key cosign.pub --source URL\``,
    );
  }
  if (publicKeyPem === undefined) return { keys: policy.keys, requires: policy.requires };
  const fp = fingerprint(publicKeyPem);
  const key = policy.keys.find((k) => k.fingerprint === fp);
  if (!key) {
    throw new Error(
      `the key ${fp} is not trusted by ${environment}: an image signed with it cannot be deployed there (trust it with \`slipway trust add --env ${environment} --public-key FILE --source URL\`)`,
    );
  }
  return { keys: [key], requires: policy.requires };
}

export const TRUST_HELP = `Usage: slipway trust list [--env NAME]
       slipway trust add --env NAME --public-key FILE --source URL [--source URL ...] [--note TEXT]
       slipway trust remove --env NAME --key sha256:FINGERPRINT
       slipway trust require --env NAME [REQUIREMENT ...]

Which keys an environment accepts images from, for which source repositories, and which attestations it requires
besides the signature, SBOM, provenance and scan: gates:STAGE[,STAGE...] (those pipeline stages passed before
signing) and smoke:ENVIRONMENT (this digest passed that environment's smoke checks). New policies start with
${JSON.stringify(defaultRequirements("production"))} for production and nothing for the others.
Policies live in ${join(paths.cache, "trust")}/<environment>.json (SLIPWAY_TRUST_DIR overrides).
`;

export async function runTrust(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: sub === "require",
    options: {
      env: { type: "string" },
      "public-key": { type: "string" },
      source: { type: "string", multiple: true },
      note: { type: "string" },
      key: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || !sub || sub === "--help") {
    process.stdout.write(TRUST_HELP);
    return sub ? 0 : 2;
  }
  const env = values.env;
  if (env !== undefined && !/^[a-z][a-z0-9-]*$/.test(env)) throw new Error(`--env "${env}" is not an environment name: use e.g. staging`);
  const needEnv = () => {
    if (!env) throw new Error(`slipway trust ${sub} needs --env NAME`);
    return env;
  };
  switch (sub) {
    case "list": {
      const { readdirSync } = await import("node:fs");
      const names = env
        ? [env]
        : existsSync(trustDir())
          ? readdirSync(trustDir())
              .filter((f) => f.endsWith(".json"))
              .map((f) => f.slice(0, -5))
          : [];
      if (!names.length) process.stdout.write(`no environment has a trust policy yet (${trustDir()})\n`);
      for (const name of names.sort()) {
        const p = readTrust(name);
        process.stdout.write(
          `${name}: requires ${p?.requires.length ? p.requires.join(" ") : "signature, SBOM, provenance and scan only"}\n`,
        );
        for (const k of p?.keys ?? [])
          process.stdout.write(`  ${k.fingerprint} for ${k.sources.join(", ")}${k.note ? ` (${k.note})` : ""}\n`);
      }
      return 0;
    }
    case "add": {
      const file = values["public-key"];
      if (!file) throw new Error("slipway trust add needs --public-key FILE (a cosign.pub)");
      if (!existsSync(file)) throw new Error(`--public-key ${file} does not exist`);
      const entry = trustKey(needEnv(), readFileSync(resolve(file), "utf8"), values.source ?? [], values.note ?? "");
      process.stdout.write(`trust: ${env} accepts images signed by ${entry.fingerprint} from ${entry.sources.join(", ")}\n`);
      return 0;
    }
    case "remove": {
      const name = needEnv();
      const policy = readTrust(name);
      if (!values.key || !policy?.keys.some((k) => k.fingerprint === values.key))
        throw new Error(`${name} does not trust ${values.key ?? "(no --key given)"}: see \`slipway trust list --env ${name}\``);
      writeTrust(name, { ...policy, keys: policy.keys.filter((k) => k.fingerprint !== values.key) });
      process.stdout.write(`trust: ${name} no longer accepts ${values.key}\n`);
      return 0;
    }
    case "require": {
      const name = needEnv();
      positionals.forEach(parseRequirement);
      writeTrust(name, { ...(readTrust(name) ?? { keys: [] }), requires: positionals });
      process.stdout.write(
        `trust: ${name} requires ${positionals.length ? positionals.join(" ") : "signature, SBOM, provenance and scan only"}\n`,
      );
      return 0;
    }
    default:
      throw new Error(`slipway trust: unknown subcommand "${sub}"; use list, add, remove or require`);
  }
}
