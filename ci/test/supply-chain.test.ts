/**
 * The supply chain on the real engine and the local registry, through `slipway release` as a user runs it:
 * publish, SBOM, scan with the policy gate (Trivy by default, OSV-Scanner on request), secret scan, sign and attest, verify, checked by the real cosign.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { beforeAll, describe, expect, it } from "vitest";
import { paths } from "../platform/host.ts";
import { registryAuthorization } from "../platform/registry.ts";
import { GO_TOOLS } from "../platform/versions.ts";
import { copyExample, EXAMPLE, releaseArgs, ROOT, slipway, tempDir } from "./helpers.ts";

const ADVISORIES = join(ROOT, "ci/test/fixtures/osv");
const PASSWORD = "slipway-test-key-password";
process.env.SLIPWAY_TEST_KEY_PASSWORD = PASSWORD; // the CLI reads it from the environment (--password-env)
/** The cosign that `engine up` built from the Go module proxy, run on the host against the registry. */
const COSIGN = join(paths.cache, "tools", `cosign-${GO_TOOLS.cosign.version}`, "cosign");

let keys: string;
beforeAll(async () => {
  keys = tempDir("keys");
  const r = await slipway("keys", "--out", keys, "--password-env", "SLIPWAY_TEST_KEY_PASSWORD");
  expect(r.code, r.out).toBe(0);
});

const release = (source: string, ...extra: string[]) => slipway(...releaseArgs(source, keys, "SLIPWAY_TEST_KEY_PASSWORD", ...extra));

/** A copy of the example outside git, with `edit` applied in it. */
function copy(edit: (dir: string) => void | Promise<void>): Promise<string> {
  const dir = copyExample(tempDir("release"));
  return Promise.resolve(edit(dir)).then(() => dir);
}

const withLodash = () =>
  copy(async (dir) => {
    await $({ cwd: dir, quiet: true })`npm install lodash@4.17.20 --package-lock-only --no-audit --no-fund`;
  });

describe("slipway release", () => {
  it("publishes, scans, signs and attests the example; the real cosign verifies signature and attestations", async () => {
    // a repository of its own: deploy.test signs the same commit's digest in node-api's at the same time (npm test's
    // lanes), and two cosign runs appending signatures to one digest's .sig at once can lose one
    const r = await release(EXAMPLE, "--repository", "127.0.0.1:5000/scratch/supply-chain");
    expect(r.out).toMatch(/^scan: passed \(0 finding\(s\).*, trivy\)$/m);
    expect(r.out).toMatch(/^secrets: passed/m);
    expect(r.out).toMatch(/^verify: passed \(signature, SBOM, provenance and scan attestations of /m);
    expect(r.code, r.out).toBe(0);
    const ref = /^publish: (\S+@sha256:[0-9a-f]{64})$/m.exec(r.out)![1];

    const cosign = $({ quiet: true, nothrow: true });
    const common = ["--key", join(keys, "cosign.pub"), "--insecure-ignore-tlog=true", "--allow-http-registry"];
    const sig = await cosign`${COSIGN} verify ${common} ${ref}`;
    expect(sig.exitCode, sig.stderr).toBe(0);
    expect(JSON.parse(sig.stdout)[0].critical.image["docker-manifest-digest"]).toBe(ref.split("@")[1]);
    for (const [type, predicateType] of [
      ["slsaprovenance1", "https://slsa.dev/provenance/v1"],
      ["cyclonedx", "https://cyclonedx.org/bom"],
      ["vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"],
    ]) {
      const att = await cosign`${COSIGN} verify-attestation ${common} --type ${type} ${ref}`;
      expect(att.exitCode, att.stderr).toBe(0);
      const statement = JSON.parse(Buffer.from(JSON.parse(att.stdout.trim().split("\n")[0]).payload, "base64").toString());
      expect(statement.predicateType).toBe(predicateType);
      if (type === "slsaprovenance1") {
        const deps = statement.predicate.buildDefinition.resolvedDependencies;
        expect(deps[0].digest.gitCommit).toMatch(/^[0-9a-f]{40}$/);
        expect(
          deps.some(
            (d: { uri: string; digest: { sha256?: string } }) => d.uri.includes("node") && /^[0-9a-f]{64}$/.test(d.digest.sha256 ?? ""),
          ),
        ).toBe(true);
      }
      if (type === "vuln")
        expect(statement.predicate.scanner).toMatchObject({
          uri: "pkg:generic/trivy@0.74.0",
          result: { scanner: "trivy", failOn: "high", blocking: [] },
        });
    }
  });

  it("a known-vulnerable dependency fails the scan with package, advisory, severity and fixed version; nothing is signed", async () => {
    const src = await withLodash();
    const r = await release(src, "--allow-no-commit");
    expect(r.code).toBe(1);
    // Trivy (the default), from a database its own trivy-db built from the fixture advisory: found twice,
    // in the image's node_modules and in the lockfile
    const trivy = "lodash 4\\.17\\.20: CVE-2021-23337 \\(GHSA-35jh-r3h4-6jhm\\), high, fixed in 4\\.17\\.21";
    expect(r.out).toMatch(
      new RegExp(
        `^scan: failed, 2 finding\\(s\\): 2 blocking, 0 allowed, 0 below high: ${trivy} \\[image\\]; ${trivy} \\[package-lock\\.json\\]$`,
        "m",
      ),
    );
    expect(r.out).not.toMatch(/^sign:/m);
    expect(r.out).toMatch(/^release: failed at scan; nothing was signed$/m);

    // the same verdict from OSV-Scanner, the other scanner on offer
    const osv = await release(src, "--allow-no-commit", "--scanner", "osv-scanner");
    expect(osv.code).toBe(1);
    const finding = "lodash 4\\.17\\.20: GHSA-35jh-r3h4-6jhm \\(CVE-2021-23337\\), high, fixed in 4\\.17\\.21";
    expect(osv.out).toMatch(
      new RegExp(
        `^scan: failed, 2 finding\\(s\\): 2 blocking, 0 allowed, 0 below high: ${finding} \\[image\\]; ${finding} \\[/src/package-lock\\.json\\]$`,
        "m",
      ),
    );
  });

  it("an allowlist entry with a future expiry lets it pass; an expired one does not", async () => {
    const src = await withLodash();
    const allow = (expires: string) => {
      const file = join(tempDir("allow"), "allowlist.json");
      writeFileSync(
        file,
        JSON.stringify([{ id: "GHSA-35jh-r3h4-6jhm", package: "lodash", reason: "template() is never called", expires }]),
      );
      return file;
    };
    const future = await release(src, "--allow-no-commit", "--allowlist", allow("2099-12-31"));
    expect(future.out).toMatch(/^scan: passed \(2 finding\(s\): 0 blocking, 2 allowed, 0 below high, trivy\)/m);
    expect(future.code, future.out).toBe(0);
    const expired = await release(src, "--allow-no-commit", "--allowlist", allow("2024-01-31"));
    expect(expired.code).toBe(1);
    expect(expired.out).toMatch(
      /^scan: failed, 2 finding\(s\): 2 blocking.*; expired allowlist entries: GHSA-35jh-r3h4-6jhm \(2024-01-31\)$/m,
    );
  });

  it("a committed fake secret fails the secret scan, and its value appears in no output or report", async () => {
    const secret = "AKIA" + "Q3EGRBBQ7NWKXZ5T"; // an AWS access key id shape, assembled so this file holds no literal one
    const src = await copy((dir) => writeFileSync(join(dir, "src/credentials.ts"), `export const awsAccessKeyId = "${secret}";\n`));
    const reports = tempDir("reports");
    const r = await slipway(
      "release",
      "--source",
      src,
      "--key",
      join(keys, "cosign.key"),
      "--password-env",
      "SLIPWAY_TEST_KEY_PASSWORD",
      "--vuln-db",
      ADVISORIES,
      "--reports",
      reports,
      "--allow-no-commit",
    );
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^secrets: failed, 1 secret\(s\) found: src\/credentials\.ts:1 aws-access-token \(values redacted/m);
    expect(r.out).not.toContain(secret);
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
    const written = files(reports);
    expect(written.some((f) => f.endsWith("gitleaks.sarif"))).toBe(true);
    for (const f of written) expect(readFileSync(f, "utf8"), f).not.toContain(secret);
  });

  it("a second release of the same digest pushes nothing; verify's cached answer follows the registry's signatures", async () => {
    const repository = "127.0.0.1:5000/scratch/resign";
    const source = await copy(() => {}); // its own content, whatever commits land meanwhile
    const first = await release(source, "--repository", repository, "--allow-no-commit");
    expect(first.code, first.out).toBe(0);
    const ref = /^publish: (\S+@sha256:[0-9a-f]{64})$/m.exec(first.out)![1];
    const sigTag = `${repository}:${ref.split("@")[1].replace(":", "-")}.sig`;
    const sigBefore = await manifestDigest(sigTag);
    const again = await release(source, "--repository", repository, "--allow-no-commit");
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain(
      `sign: already signed by this key: ${ref}, SBOM attested, provenance attested, scan attested (nothing pushed); gates already attested (passed: scan, secrets)`,
    );
    expect(await manifestDigest(sigTag)).toBe(sigBefore);
    // another key is refused, whatever the cache holds for this one
    const otherKeys = tempDir("other-keys");
    expect((await slipway("keys", "--out", otherKeys, "--password-env", "SLIPWAY_TEST_KEY_PASSWORD")).code).toBe(0);
    expect((await slipway("verify", ref, "--public-key", join(otherKeys, "cosign.pub"))).code).toBe(1);
    // the signature swapped for another image's: the cached pass no longer applies
    const other = await copy((dir) => writeFileSync(join(dir, "src/extra.ts"), "export const resigned = 1;\n"));
    const signed = await release(other, "--repository", "127.0.0.1:5000/scratch/resign-other", "--allow-no-commit");
    expect(signed.code, signed.out).toBe(0);
    const otherRef = /^publish: (\S+@sha256:[0-9a-f]{64})$/m.exec(signed.out)![1];
    const otherSig = await manifestDigest(`127.0.0.1:5000/scratch/resign-other:${otherRef.split("@")[1].replace(":", "-")}.sig`);
    await retag(`127.0.0.1:5000/scratch/resign-other@${otherSig}`, sigTag);
    const v = await slipway("verify", ref, "--public-key", join(keys, "cosign.pub"));
    expect(v.code, v.out).toBe(1);
    expect(v.out).toMatch(/^verify: failed, no valid signature for /m);
  }, 600_000); // three releases of new content, beside the other lane
  it("re-tagging a different image under the signed tag makes verify fail", async () => {
    const r = await release(EXAMPLE, "--repository", "127.0.0.1:5000/scratch/retag");
    expect(r.code, r.out).toBe(0);
    const tag = /^publish: (\S+)@/m.exec(r.out)![1];
    const sha = (await $({ cwd: EXAMPLE, quiet: true })`git rev-parse HEAD`).stdout.trim();
    const signedTag = `${tag}:${sha.slice(0, 12)}${(await $({ cwd: EXAMPLE, quiet: true })`git status --porcelain -- .`).stdout.trim() ? "-dirty" : ""}`;
    expect((await slipway("verify", signedTag, "--public-key", join(keys, "cosign.pub"))).code).toBe(0);
    // another image pushed under the same tag
    const other = await copy((dir) => writeFileSync(join(dir, "src/extra.ts"), "export const extra = 1;\n"));
    const pushed = await slipway("publish", "--source", other, "--repository", "127.0.0.1:5000/scratch/other", "--allow-no-commit");
    const otherRef = /^publish: (\S+@sha256:[0-9a-f]{64})/m.exec(pushed.out)![1];
    await retag(otherRef, signedTag);
    const v = await slipway("verify", signedTag, "--public-key", join(keys, "cosign.pub"));
    expect(v.code).toBe(1);
    expect(v.out).toMatch(/^verify: failed, no valid signature for /m);
  });
});

/** Puts the manifest of `from` (repo@digest) under `to` (repo:tag) in the local registry, as an attacker holding its credentials would. */
async function retag(from: string, to: string): Promise<void> {
  const [fromRepo, digest] = from.replace(/^127\.0\.0\.1:5000\//, "").split("@");
  const [toRepo, tag] = to.replace(/^127\.0\.0\.1:5000\//, "").split(":");
  const accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
  const manifest = await fetch(`http://127.0.0.1:5000/v2/${fromRepo}/manifests/${digest}`, { headers: { Accept: accept } });
  const body = Buffer.from(await manifest.arrayBuffer());
  const m = JSON.parse(body.toString());
  for (const blob of [m.config, ...m.layers]) {
    const r = await fetch(`http://127.0.0.1:5000/v2/${toRepo}/blobs/uploads/?mount=${blob.digest}&from=${fromRepo}`, {
      method: "POST",
      headers: { Authorization: registryAuthorization() },
    });
    expect([201, 202]).toContain(r.status);
  }
  const put = await fetch(`http://127.0.0.1:5000/v2/${toRepo}/manifests/${tag}`, {
    method: "PUT",
    headers: { "Content-Type": manifest.headers.get("content-type")!, Authorization: registryAuthorization() },
    body,
  });
  expect(put.status).toBe(201);
}

/** The digest the local registry holds for repo:tag. */
async function manifestDigest(ref: string): Promise<string> {
  const [repo, tag] = ref.replace(/^127\.0\.0\.1:5000\//, "").split(":");
  const accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
  const r = await fetch(`http://127.0.0.1:5000/v2/${repo}/manifests/${tag}`, { method: "HEAD", headers: { Accept: accept } });
  expect(r.status, ref).toBe(200);
  return r.headers.get("docker-content-digest")!;
}
