/**
 * What a registry holds for an image's signatures right now, read over the Distribution API from this process:
 * the digests of the `sha256-<hex>.sig` and `.att` manifests cosign writes. They are content digests, so a
 * verification keyed on them (and on the public key) can be served from the engine's cache until either changes.
 */

const MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.index.v1+json",
].join(", ");

/** registry host and repository path of a reference; undefined for Docker Hub names (no host part). */
export function registryOf(ref: string): { host: string; path: string; digest?: string } | undefined {
  const [name, digest] = ref.split("@");
  const slash = name.indexOf("/");
  if (slash < 0) return undefined;
  const host = name.slice(0, slash);
  if (!/[.:]/.test(host) && host !== "localhost") return undefined;
  const rest = name.slice(slash + 1);
  const path = rest.replace(/:[^/:]+$/, "");
  return { host, path, digest: digest && /^sha256:[0-9a-f]{64}$/.test(digest) ? digest : undefined };
}

/** The tags cosign stores an image's signatures and attestations under. */
export function signatureTags(digest: string): { sig: string; att: string } {
  const tag = digest.replace(":", "-");
  return { sig: `${tag}.sig`, att: `${tag}.att` };
}

const isLoopback = (host: string) => /^(localhost|127\.0\.0\.1)(:\d+)?$/.test(host);

/**
 * A manifest request for a tag (HEAD: its digest only; GET: the manifest too), following a Bearer challenge with an
 * anonymous pull token: the response, "absent" for a 404, or undefined when the registry cannot be asked from here
 * (unreachable, e.g. a loopback registry seen from inside a module's container; credentials required).
 */
async function manifestRequest(
  host: string,
  path: string,
  tag: string,
  method: "HEAD" | "GET",
  timeoutMs: number,
): Promise<Response | "absent" | undefined> {
  const url = `${isLoopback(host) ? "http" : "https"}://${host}/v2/${path}/manifests/${tag}`;
  const ask = (auth?: string) =>
    fetch(url, {
      method,
      headers: { accept: MANIFEST_TYPES, ...(auth ? { authorization: auth } : {}) },
      signal: AbortSignal.timeout(timeoutMs),
    });
  try {
    let res = await ask();
    if (res.status === 401) {
      const token = await anonymousToken(res.headers.get("www-authenticate") ?? "", timeoutMs);
      if (!token) return undefined;
      res = await ask(`Bearer ${token}`);
    }
    if (res.status === 404) return "absent";
    return res.ok ? res : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The digest a tag points at: "" when the tag does not exist, undefined when the registry cannot be asked from
 * here (unreachable, e.g. a loopback registry seen from inside a module's container; credentials required).
 */
export async function tagDigest(host: string, path: string, tag: string, timeoutMs = 3000): Promise<string | undefined> {
  const res = await manifestRequest(host, path, tag, "HEAD", timeoutMs);
  return res === "absent" ? "" : (res?.headers.get("docker-content-digest") ?? undefined);
}

/**
 * The attestation layers of the given predicate types in cosign's .att manifest, as "<type>=<layer digest>" sorted
 * ("" when the tag does not exist), or undefined when it cannot be read from here. Each layer is a signed DSSE
 * envelope, so its digest covers the attestation and its signature; layers of other types do not count.
 */
export async function attestationLayers(
  host: string,
  path: string,
  tag: string,
  types: string[],
  timeoutMs = 3000,
): Promise<string | undefined> {
  const res = await manifestRequest(host, path, tag, "GET", timeoutMs);
  if (res === "absent") return "";
  if (!res) return undefined;
  try {
    const manifest = (await res.json()) as { layers?: { digest: string; annotations?: Record<string, string> }[] };
    return (manifest.layers ?? [])
      .map((l) => ({ type: l.annotations?.predicateType ?? "", digest: l.digest }))
      .filter((l) => types.includes(l.type))
      .map((l) => `${l.type}=${l.digest}`)
      .sort()
      .join(",");
  } catch {
    return undefined;
  }
}

/** A pull token for a public repository (the Bearer challenge's realm, service and scope), if the registry gives one. */
async function anonymousToken(challenge: string, timeoutMs: number): Promise<string | undefined> {
  if (!/^Bearer /i.test(challenge)) return undefined;
  const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  if (!params.realm) return undefined;
  const url = new URL(params.realm);
  for (const k of ["service", "scope"]) if (params[k]) url.searchParams.set(k, params[k]);
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) }).catch(() => undefined);
  if (!res?.ok) return undefined;
  const body = (await res.json()) as { token?: string; access_token?: string };
  return body.token ?? body.access_token;
}

/**
 * The signature state of a digest reference as one string ("<sig digest>|<att digest>", "" for an absent tag), or
 * undefined when it cannot be read from here (then nothing may be served from cache). With predicateTypes, the
 * attestation part is only the layers of those types: another kind attested later (a smoke check's) leaves the
 * state of a check of these types as it was.
 */
export async function signatureState(ref: string, predicateTypes?: string[]): Promise<string | undefined> {
  const r = registryOf(ref);
  if (!r?.digest) return undefined;
  const tags = signatureTags(r.digest);
  const [sig, att] = await Promise.all([
    tagDigest(r.host, r.path, tags.sig),
    predicateTypes ? attestationLayers(r.host, r.path, tags.att, predicateTypes) : tagDigest(r.host, r.path, tags.att),
  ]);
  return sig === undefined || att === undefined ? undefined : `${sig}|${att}`;
}

/**
 * The part of a signature state (see signatureState) one check reads: the signature's manifest digest for the
 * signature (predicateType undefined), else the layers of that predicate type, so that another kind attested
 * later leaves the cached answer of this check as it was.
 */
export function stateOf(state: string, predicateType?: string): string {
  const [sig, att = ""] = state.split("|");
  if (predicateType === undefined) return `sig:${sig}`;
  const layers = att.split(",").filter((l) => l.startsWith(`${predicateType}=`));
  return `att:${predicateType}:${layers.join(",")}`;
}
