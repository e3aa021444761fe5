/**
 * Image builds of projects as people write them, offline, on the real engine and the local mirror: a Yarn 1 service
 * whose Dockerfile runs `yarn install` (plain, and through corepack), a failing RUN step that shows its output, a
 * base image the mirror lacks (the error lists what it serves and the import command), and `slipway engine import`
 * of a `docker save` archive made on the host, then used as a build's base image.
 */
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { describe, expect, it } from "vitest";
import { ROOT, slipway, tempDir } from "./helpers.ts";

const YARN_SERVICE = join(ROOT, "ci/test/fixtures/yarn-service");
const REGISTRY = "http://127.0.0.1:5000";

/** A copy of the yarn service with one more file (e.g. another Dockerfile). */
function serviceWith(files: Record<string, string> = {}): string {
  const dir = tempDir("yarn-service");
  cpSync(YARN_SERVICE, dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const publish = (dir: string, dockerfile: string, repo: string) =>
  slipway("publish", "--source", dir, "--dockerfile", dockerfile, "--repository", `127.0.0.1:5000/${repo}`, "--allow-no-commit");

/** The file at path inside the image the registry serves for repo:tag, read through the engine. */
async function fileIn(ref: string, path: string): Promise<string> {
  const { connection, dag } = await import("@dagger.io/dagger");
  let text = "";
  await connection(async () => {
    text = await dag.container().from(ref).file(path).contents();
  });
  return text;
}

describe("image builds of Yarn 1 services, offline", () => {
  it("a Dockerfile that runs `yarn install` builds with the node image's Yarn 1, and through corepack too", async () => {
    const dir = serviceWith();
    const plain = await publish(dir, "Dockerfile", "yarn-service");
    expect(plain.code, plain.out).toBe(0);
    const ref = /^publish: (127\.0\.0\.1:5000\/yarn-service@sha256:[0-9a-f]{64})/m.exec(plain.out)?.[1];
    expect(ref, plain.out).toBeDefined();
    expect(JSON.parse(await fileIn(ref!, "/app/node_modules/ms/package.json")).version).toBe("2.1.3");

    const viaCorepack = await publish(dir, "Dockerfile.corepack", "yarn-service-corepack");
    expect(viaCorepack.code, viaCorepack.out).toBe(0);
    const ref2 = /^publish: (\S+@sha256:[0-9a-f]{64})/m.exec(viaCorepack.out)?.[1];
    expect((await fileIn(ref2!, "/yarn-version")).trim()).toMatch(/^1\.22\.\d+$/);
  });

  it("a failing RUN step names the step and shows its last output lines", async () => {
    const r = await publish(serviceWith(), "Dockerfile.broken", "yarn-service-broken");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/docker build of Dockerfile\.broken failed at RUN yarn run build \(exit code 1\); its last output:/);
    expect(r.out).toMatch(/error Command "build" not found\./);
  });

  it("a base image the mirror lacks fails with what it serves and the import command", async () => {
    const r = await publish(serviceWith({ "Dockerfile.old": 'FROM node:12-alpine\nCMD ["node"]\n' }), "Dockerfile.old", "yarn-service-old");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/its base image node:12-alpine is not found/);
    expect(r.out).toMatch(/it serves [^;]*\bnode:22-bookworm-slim\b/);
    expect(r.out).toMatch(/docker save -o image\.tar node:12-alpine`\), then `slipway engine import image\.tar`/);
  });
});

describe("slipway engine import", () => {
  it("loads a `docker save` archive of an image made on the host into the mirror; a build then uses it as its base", async () => {
    const tag = `slipway-fixture/base:${Date.now()}`;
    const work = tempDir("import");
    // an image made on this host from nothing pulled: a file tree with a shell script, `docker import`ed
    mkdirSync(join(work, "root/etc"), { recursive: true });
    writeFileSync(join(work, "root/etc/fixture-base"), `made on the host for ${tag}\n`);
    await $`tar -C ${join(work, "root")} -cf ${join(work, "root.tar")} .`;
    await $`docker import --change ${"LABEL org.example.fixture=base"} ${join(work, "root.tar")} ${tag}`;
    await $`docker save -o ${join(work, "base.tar")} ${tag}`;
    await $`docker rmi ${tag}`;

    const r = await slipway("engine", "import", join(work, "base.tar"));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(new RegExp(`^imported ${tag.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} \\(sha256:[0-9a-f]{64}\\)$`, "m"));
    const [repo, version] = tag.split(":");
    expect((await fetch(`${REGISTRY}/v2/${repo}/manifests/${version}`, { method: "HEAD" })).status).toBe(200);

    // a Dockerfile FROM the imported image builds, and its file is there
    const dir = serviceWith({ "Dockerfile.imported": `FROM ${tag}\nCOPY server.js /srv/server.js\n` });
    const built = await publish(dir, "Dockerfile.imported", "on-imported-base");
    expect(built.code, built.out).toBe(0);
    const ref = /^publish: (\S+@sha256:[0-9a-f]{64})/m.exec(built.out)?.[1];
    expect(await fileIn(ref!, "/etc/fixture-base")).toBe(`made on the host for ${tag}\n`);

    // a name the engine does not resolve through the mirror, and an image Slipway pins itself, are refused
    await $`docker import ${join(work, "root.tar")} quay.io/example/base:1`;
    await $`docker save -o ${join(work, "quay.tar")} quay.io/example/base:1`;
    const quay = await slipway("engine", "import", join(work, "quay.tar"));
    expect(quay.code).toBe(1);
    expect(quay.out).toMatch(
      /^slipway: nothing imported: quay\.io\/example\/base:1 is on quay\.io, which the engine does not resolve through the mirror/m,
    );
    await $`docker import ${join(work, "root.tar")} node:22-bookworm-slim`;
    await $`docker save -o ${join(work, "pinned.tar")} node:22-bookworm-slim`;
    const pinned = await slipway("engine", "import", join(work, "pinned.tar"));
    expect(pinned.code).toBe(1);
    expect(pinned.out).toMatch(/node:22-bookworm-slim is an image Slipway builds and pins itself/);
    const missing = await slipway("engine", "import", join(work, "nothing.tar"));
    expect(missing.out).toMatch(
      /nothing\.tar does not exist: make it where the image can be pulled, with `docker save -o FILE IMAGE\.\.\.`/,
    );
  });
});
