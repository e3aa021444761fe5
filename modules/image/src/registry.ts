/**
 * A tag's digest as the registry holds it now, read over the Distribution API from this process: lets publish
 * skip a push whose every tag already points at the digest it built.
 */

const MANIFEST_TYPES = ["application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"].join(", ");

/**
 * repository@digest's tags as the registry holds them: the digest of each, "" for an absent tag, undefined when
 * the registry cannot be asked from here (a loopback registry seen from inside a container, credentials needed).
 */
export async function tagDigest(repository: string, tag: string, timeoutMs = 3000): Promise<string | undefined> {
  const slash = repository.indexOf("/");
  const host = repository.slice(0, slash);
  const scheme = /^(localhost|127\.0\.0\.1)(:\d+)?$/.test(host) ? "http" : "https";
  try {
    const res = await fetch(`${scheme}://${host}/v2/${repository.slice(slash + 1)}/manifests/${tag}`, {
      method: "HEAD",
      headers: { accept: MANIFEST_TYPES },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status === 404) return "";
    return res.ok ? (res.headers.get("docker-content-digest") ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}
