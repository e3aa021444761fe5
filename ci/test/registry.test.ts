/**
 * The local registry's doors: it answers on this host's loopback only, reads are anonymous, a push or a delete
 * needs its credentials (also from inside a pipeline container, which reaches it through a tunnel), and a mirrored
 * image pushed over is refused by `engine up` until it is rebuilt.
 */
import { connection, dag } from "@dagger.io/dagger";
import { randomUUID } from "node:crypto";
import { $ } from "zx";
import { describe, expect, it } from "vitest";
import { hostTunnel } from "../cli/stages.ts";
import { mirrorPath, PINS, readPins } from "../platform/images/build.ts";
import { actionlint, debian } from "../platform/images/catalog.ts";
import { REGISTRY, REGISTRY_PORT, registryAuthorization } from "../platform/registry.ts";
import { NODE_MAJOR } from "../platform/versions.ts";
import { slipway, tempDir } from "./helpers.ts";

const MANIFESTS = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
const url = (path: string) => `http://${REGISTRY}/v2/${path}`;

async function manifest(ref: string): Promise<{ digest: string; type: string; body: Buffer }> {
  const [repo, tag] = mirrorPath(ref).split(":");
  const r = await fetch(url(`${repo}/manifests/${tag}`), { headers: { Accept: MANIFESTS } });
  expect(r.status, `GET ${ref}`).toBe(200);
  return {
    digest: r.headers.get("docker-content-digest")!,
    type: r.headers.get("content-type")!,
    body: Buffer.from(await r.arrayBuffer()),
  };
}

async function putManifest(ref: string, m: { type: string; body: Buffer }): Promise<number> {
  const [repo, tag] = mirrorPath(ref).split(":");
  const r = await fetch(url(`${repo}/manifests/${tag}`), {
    method: "PUT",
    headers: { "Content-Type": m.type, Authorization: registryAuthorization() },
    body: new Uint8Array(m.body),
  });
  return r.status;
}

describe("local registry", () => {
  it("listens on loopback only", async () => {
    const listeners = (await $`ss -ltnH sport = :${REGISTRY_PORT}`).stdout.trim().split("\n").filter(Boolean);
    expect(listeners.length).toBeGreaterThan(0);
    for (const l of listeners) expect(l.split(/\s+/)[3]).toBe(`127.0.0.1:${REGISTRY_PORT}`);
  });

  it("serves reads anonymously and refuses pushes and deletes without its credentials", async () => {
    const node = await manifest(`node:${NODE_MAJOR}`);
    const [repo] = mirrorPath(`node:${NODE_MAJOR}`).split(":");
    const upload = await fetch(url(`scratch/anonymous/blobs/uploads/`), { method: "POST" });
    expect(upload.status).toBe(401);
    expect(upload.headers.get("www-authenticate")).toBe(
      `Bearer realm="http://${REGISTRY}/token",service="slipway-registry",scope="repository:scratch/anonymous:pull,push"`,
    );
    const del = await fetch(url(`${repo}/manifests/${node.digest}`), { method: "DELETE" });
    expect(del.status).toBe(401);
    const put = await fetch(url(`scratch/anonymous/manifests/x`), {
      method: "PUT",
      headers: { "Content-Type": node.type },
      body: new Uint8Array(node.body),
    });
    expect(put.status).toBe(401);
    const wrong = await fetch(url(`scratch/anonymous/blobs/uploads/`), {
      method: "POST",
      headers: { Authorization: `Basic ${Buffer.from("slipway:guess").toString("base64")}` },
    });
    expect(wrong.status).toBe(401);
    // the manifest is still there, and the credentials do open the door
    expect((await manifest(`node:${NODE_MAJOR}`)).digest).toBe(node.digest);
    const ok = await fetch(url(""), { headers: { Authorization: registryAuthorization() } });
    expect(ok.status).toBe(200);
  });

  it("hands out tokens as Docker Hub does: a pull token to anyone, a push token for the credentials only", async () => {
    const tokenOf = async (auth?: string) => {
      const r = await fetch(url("").replace("/v2/", "/token?service=slipway-registry&scope=repository:scratch/tokens:pull,push"), {
        headers: auth ? { Authorization: auth } : {},
      });
      return { status: r.status, token: r.status === 200 ? ((await r.json()) as { token: string }).token : "" };
    };
    const pull = await tokenOf();
    expect(pull.status).toBe(200);
    const ping = await fetch(url(""), { headers: { Authorization: `Bearer ${pull.token}` } });
    expect(ping.status).toBe(200);
    const upload = (token: string) =>
      fetch(url("scratch/tokens/blobs/uploads/"), { method: "POST", headers: { Authorization: `Bearer ${token}` } });
    expect((await upload(pull.token)).status).toBe(401);
    expect((await upload(`${pull.token.split(".")[0].replace(/.$/, "x")}.${pull.token.split(".")[1]}`)).status).toBe(401); // tampered
    expect((await tokenOf(`Basic ${Buffer.from("slipway:guess").toString("base64")}`)).status).toBe(401);
    const push = await tokenOf(registryAuthorization());
    expect((await upload(push.token)).status).toBe(202);
  });

  it("a Docker engine pulls anonymously and cannot push without the credentials", async () => {
    const config = tempDir("docker-config"); // no credentials at all
    const ref = `${REGISTRY}/${mirrorPath(debian.refs[0])}`;
    const pull = await $({ nothrow: true })`docker --config ${config} pull -q ${ref}`;
    expect(pull.exitCode, pull.stderr).toBe(0);
    const target = `${REGISTRY}/scratch/docker-anonymous:${Date.now()}`;
    await $`docker tag ${ref} ${target}`;
    const push = await $({ nothrow: true })`docker --config ${config} push ${target}`;
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toMatch(/unauthorized/);
    await $({ nothrow: true })`docker rmi ${target} ${ref}`;
  });

  it("refuses a push from inside a pipeline container (anonymous through the tunnel)", async () => {
    let out = "";
    await connection(async () => {
      out = await dag
        .container()
        .from(`node:${NODE_MAJOR}`)
        .withServiceBinding("registry", hostTunnel("127.0.0.1", REGISTRY_PORT))
        .withEnvVariable("RUN", randomUUID())
        .withExec([
          "node",
          "-e",
          `Promise.all(["GET /v2/library/node/manifests/${NODE_MAJOR}", "POST /v2/scratch/from-container/blobs/uploads/"].map(async (l) => {
             const [method, path] = l.split(" ");
             const r = await fetch("http://registry:${REGISTRY_PORT}" + path, { method, headers: { Accept: "${MANIFESTS}" } });
             return method + " " + r.status;
           })).then((s) => console.log(s.join(", ")))`,
        ])
        .stdout();
    });
    expect(out.trim()).toBe("GET 200, POST 401");
  });

  it("engine up refuses a mirrored image pushed over, and accepts it once it is back", async () => {
    // a tool image nothing else in the suite reads (actionlint), pushed over with another image's manifest
    const ref = actionlint.refs[0];
    const original = await manifest(ref);
    expect(readPins()[mirrorPath(ref)]).toBe(original.digest);
    const other = await manifest(debian.refs[0]);
    const [repo] = mirrorPath(ref).split(":");
    const [otherRepo] = mirrorPath(debian.refs[0]).split(":");
    for (const blob of [JSON.parse(other.body.toString()).config, ...JSON.parse(other.body.toString()).layers] as { digest: string }[]) {
      const r = await fetch(url(`${repo}/blobs/uploads/?mount=${blob.digest}&from=${otherRepo}`), {
        method: "POST",
        headers: { Authorization: registryAuthorization() },
      });
      expect([201, 202]).toContain(r.status);
    }
    expect(await putManifest(ref, other)).toBe(201);
    try {
      const up = await slipway("engine", "up");
      expect(up.code).not.toBe(0);
      expect(up.out).toContain(`${REGISTRY}/${mirrorPath(ref)} is ${other.digest}, not the ${original.digest} this machine built`);
      expect(up.out).toContain(PINS);
    } finally {
      expect(await putManifest(ref, original)).toBe(201);
    }
    const again = await slipway("engine", "up");
    expect(again.out).toMatch(new RegExp(`Image ${ref.replace(/[.]/g, "\\.")}: ok`));
    expect(again.code).toBe(0);
  });
});
