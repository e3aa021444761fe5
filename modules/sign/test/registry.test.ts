import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attestationLayers, registryOf, signatureState, signatureTags, stateOf, tagDigest } from "../src/registry.ts";

const DIGEST = `sha256:${"ab".repeat(32)}`;
const SMOKE = "https://slipway.dev/attestations/smoke/v1";

describe("registryOf", () => {
  it("splits a digest reference into host, repository path and digest", () => {
    expect(registryOf(`127.0.0.1:5000/team/app@${DIGEST}`)).toEqual({ host: "127.0.0.1:5000", path: "team/app", digest: DIGEST });
    expect(registryOf("ghcr.io/org/app:v1")).toEqual({ host: "ghcr.io", path: "org/app", digest: undefined });
  });
  it("gives up on Docker Hub short names, which have no registry host", () => {
    expect(registryOf("library/node:22")).toBeUndefined();
    expect(registryOf("node:22")).toBeUndefined();
  });
});

it("names cosign's signature and attestation tags after the digest", () => {
  expect(signatureTags(DIGEST)).toEqual({ sig: `sha256-${"ab".repeat(32)}.sig`, att: `sha256-${"ab".repeat(32)}.att` });
});

describe("tagDigest against a registry on loopback", () => {
  let server: Server;
  let host: string;
  const requests: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
      if (req.url === "/token?service=test&scope=repository%3Aprivate%3Apull") return void res.end(JSON.stringify({ token: "t0k" }));
      if (req.url?.startsWith("/v2/private/") && req.headers.authorization !== "Bearer t0k") {
        res.writeHead(401, { "www-authenticate": `Bearer realm="http://${host}/token",service="test",scope="repository:private:pull"` });
        return void res.end();
      }
      if (req.url?.endsWith("/signed.att")) {
        res.writeHead(200, { "docker-content-digest": "sha256:a77" });
        const layer = (type: string, digest: string) => ({
          digest,
          annotations: { "dev.cosignproject.cosign/signature": "", predicateType: type },
        });
        return void res.end(
          req.method === "GET"
            ? JSON.stringify({
                layers: [
                  layer("https://slsa.dev/provenance/v1", "sha256:p1"),
                  layer("https://cyclonedx.org/bom", "sha256:b1"),
                  layer(SMOKE, "sha256:s1"),
                ],
              })
            : undefined,
        );
      }
      if (req.url?.endsWith(".sig")) {
        res.writeHead(200, { "docker-content-digest": "sha256:5150" });
        return void res.end();
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server.close());

  it("reads a tag's manifest digest, and an absent tag as empty", async () => {
    expect(await tagDigest(host, "app", "x.sig")).toBe("sha256:5150");
    expect(await tagDigest(host, "app", "x.att")).toBe("");
    expect(requests.at(-1)).toMatch(/^HEAD \/v2\/app\/manifests\/x\.att/);
  });
  it("follows a Bearer challenge with an anonymous pull token", async () => {
    expect(await tagDigest(host, "private", "x.sig")).toBe("sha256:5150");
    expect(requests.at(-1)).toBe("HEAD /v2/private/manifests/x.sig Bearer t0k");
  });
  it("says it cannot tell when the registry does not answer (nothing may then come from cache)", async () => {
    expect(await tagDigest("127.0.0.1:1", "app", "x.sig", 500)).toBeUndefined();
    expect(await signatureState(`127.0.0.1:1/app@${DIGEST}`)).toBeUndefined();
    expect(await signatureState(`${host}/app@${DIGEST}`)).toBe("sha256:5150|");
    expect(await signatureState(`${host}/app:latest`)).toBeUndefined();
  });
  it("keys a check on the attestation layers of its own types: a later smoke attestation leaves it as it was", async () => {
    const types = ["https://cyclonedx.org/bom", "https://slsa.dev/provenance/v1"];
    expect(await attestationLayers(host, "app", "signed.att", types)).toBe(
      "https://cyclonedx.org/bom=sha256:b1,https://slsa.dev/provenance/v1=sha256:p1",
    );
    expect(await attestationLayers(host, "app", "signed.att", [SMOKE])).toBe(`${SMOKE}=sha256:s1`);
    expect(await attestationLayers(host, "app", "unsigned.att", types)).toBe("");
    expect(await attestationLayers("127.0.0.1:1", "app", "signed.att", types, 500)).toBeUndefined();
    expect(requests.at(-1)).toMatch(/^GET \/v2\/app\/manifests\/unsigned\.att/);
  });
  it("gives each check the part of the state it reads: the signature, or one type's layers", () => {
    const state = `sha256:5150|https://cyclonedx.org/bom=sha256:b1,${SMOKE}=sha256:s1,${SMOKE}=sha256:s2`;
    expect(stateOf(state)).toBe("sig:sha256:5150");
    expect(stateOf(state, "https://cyclonedx.org/bom")).toBe("att:https://cyclonedx.org/bom:https://cyclonedx.org/bom=sha256:b1");
    expect(stateOf(state, SMOKE)).toBe(`att:${SMOKE}:${SMOKE}=sha256:s1,${SMOKE}=sha256:s2`);
    // a smoke attestation added: the SBOM check's part is the same, the smoke check's is not
    const later = `${state},${SMOKE}=sha256:s3`;
    expect(stateOf(later, "https://cyclonedx.org/bom")).toBe(stateOf(state, "https://cyclonedx.org/bom"));
    expect(stateOf(later, SMOKE)).not.toBe(stateOf(state, SMOKE));
    expect(stateOf("|", "https://cyclonedx.org/bom")).toBe("att:https://cyclonedx.org/bom:");
  });
});
