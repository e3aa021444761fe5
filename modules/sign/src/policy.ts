/**
 * What an environment asks of an image beyond a valid signature, SBOM, provenance and scan attestation: pure
 * functions over the in-toto statements cosign verified (no engine). Requirements are strings, as an environment's
 * trust policy names them:
 *   "gates:test,scan,secrets"  a gates attestation saying each of those pipeline stages ran and passed
 *   "smoke:staging"            a smoke attestation saying the digest passed the smoke checks of staging
 * Sources: the repositories the image may be built from, matched against the provenance's source.
 */

/** Predicate types of the attestations Slipway writes besides the SBOM, provenance and scan. */
export const GATES_TYPE = "https://slipway.dev/attestations/gates/v1";
export const SMOKE_TYPE = "https://slipway.dev/attestations/smoke/v1";

export type Requirement = { kind: "gates"; gates: string[] } | { kind: "smoke"; environment: string };

/** The gates predicate: each gate stage of the pipeline with how it ended ("passed", "skipped", ...). */
export interface GatesPredicate {
  gates: Record<string, string>;
}

/** The smoke predicate: the environment whose smoke checks this digest passed. */
export interface SmokePredicate {
  environment: string;
  url: string;
  checks: string[];
  result: "passed";
}

/** JSON with every object's keys sorted: a predicate as cosign returns it (Go sorts map keys) compares equal to ours. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object")
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(value);
}

/** "gates:test,scan" / "smoke:staging" as a requirement; an error naming the accepted forms otherwise. */
export function parseRequirement(text: string): Requirement {
  const m = /^(gates|smoke):([a-z0-9][a-z0-9,-]*)$/.exec(text.trim());
  if (!m) throw new Error(`requirement ${JSON.stringify(text)} is not one: write gates:STAGE[,STAGE...] or smoke:ENVIRONMENT`);
  if (m[1] === "gates") return { kind: "gates", gates: m[2].split(",").filter(Boolean) };
  if (m[2].includes(",")) throw new Error(`requirement ${JSON.stringify(text)} names more than one environment: one smoke:ENV each`);
  return { kind: "smoke", environment: m[2] };
}

/** The predicate type a requirement is checked against. */
export const requirementType = (r: Requirement) => (r.kind === "gates" ? GATES_TYPE : SMOKE_TYPE);

/** The predicates of cosign's `verify-attestation --output json` lines (one DSSE envelope per line). */
export function predicates(output: string): unknown[] {
  return output
    .split("\n")
    .filter((l) => l.trim().startsWith("{"))
    .flatMap((l) => {
      try {
        const envelope = JSON.parse(l) as { payload?: string };
        const statement = JSON.parse(Buffer.from(envelope.payload ?? "", "base64").toString()) as { predicate?: unknown };
        return statement.predicate === undefined ? [] : [statement.predicate];
      } catch {
        return [];
      }
    });
}

/**
 * Why the verified predicates of a requirement's type do not meet it; undefined when one of them does.
 * found: the predicates cosign verified for requirementType(r) with the environment's key.
 */
export function unmet(r: Requirement, found: unknown[]): string | undefined {
  if (r.kind === "gates") {
    const all = found.map((p) => (p as GatesPredicate).gates ?? {});
    if (all.some((g) => r.gates.every((name) => g[name] === "passed"))) return undefined;
    if (!all.length) return `no gates attestation (which pipeline stages passed before it was signed?)`;
    const best = all[all.length - 1];
    const missing = r.gates.filter((name) => best[name] !== "passed");
    return `its gates attestation says ${missing.map((n) => `${n} ${best[n] ?? "did not run"}`).join(", ")}; ${missing.join(", ")} must pass before it is signed`;
  }
  const passed = found.some((p) => (p as SmokePredicate).environment === r.environment && (p as SmokePredicate).result === "passed");
  return passed ? undefined : `this digest has not passed the smoke checks of ${r.environment} (no smoke attestation for ${r.environment})`;
}

/** A source URL as provenance and trust policies compare them: no credentials, no trailing ".git" or "/". */
export function normalSource(url: string): string {
  const u = url.trim();
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)(?:[^/?#]*@)?([^?#]*)/.exec(u);
  return (m ? m[1] + m[2] : u.replace(/[?#].*$/, "")).replace(/\/+$/, "").replace(/\.git$/, "");
}

/** Why the provenance's source is not one of sources (undefined when it is, or when sources is empty). */
export function unacceptedSource(sources: string[], provenance: unknown[]): string | undefined {
  if (!sources.length) return undefined;
  const accepted = new Set(sources.map(normalSource));
  const found = provenance.map(
    (p) => (p as { buildDefinition?: { externalParameters?: { source?: string } } }).buildDefinition?.externalParameters?.source ?? "",
  );
  if (found.some((s) => s && accepted.has(normalSource(s)))) return undefined;
  const named = found.find(Boolean);
  return named
    ? `it was built from ${normalSource(named)}, not from a source this environment accepts (${[...accepted].join(", ")})`
    : `its provenance names no source repository; this environment accepts images from ${[...accepted].join(", ")} only`;
}
