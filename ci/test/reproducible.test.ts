/**
 * Reproducible builds, on real engines: the same commit of the example, published by the shared engine (warm cache)
 * and by a second engine started for this test with an empty cache, has the same digest. The shared engine's cache
 * is never emptied (other tests rely on it): the second engine runs from the same image with the same mounts and
 * settings, on its own fresh state volume, and is removed with its volume afterwards.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DAGGER_CLI } from "../platform/dagger.ts";
import { engineConfig } from "../platform/engine.ts";
import { CONTENT_DIR, contentDigest, ENGINE_CONTENT_DIR } from "../platform/images/content.ts";
import { REGISTRY, REGISTRY_FRONT_SOCKET, REGISTRY_PORT } from "../platform/registry.ts";
import { BUILTIN_SDKS, ENGINE_IMAGE } from "../platform/versions.ts";
import { copyExample, run, CLI, tempDir } from "./helpers.ts";

/** The throwaway engine: container and state volume of the same name. */
const NAME = `slipway-repro-${process.pid}`;
const RUNNER_HOST = `docker-container://${NAME}`;
const MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

const docker = $({ quiet: true, nothrow: true });

/**
 * Starts the second engine as `engine up` starts Slipway's (ci/platform/engine.ts: image, settings, CA
 * certificates, builtin SDKs), on an empty volume. One difference: a network namespace of its own (Docker's
 * bridge) instead of the host's. An engine on the host's network runs a DNS server for its containers on port 53
 * of every address, which the shared engine holds. The local registry answers on the host's loopback only, so a
 * relay inside the second engine's namespace serves 127.0.0.1:PORT there from the registry front's unix socket:
 * the same settings, the same registry. What a build produces does not depend on how the engine reaches it.
 */
async function startEngine(): Promise<void> {
  const config = join(tempDir("engine"), "engine.json");
  writeFileSync(config, JSON.stringify(engineConfig(), null, 2) + "\n");
  const certs = "/usr/local/share/ca-certificates";
  const sdks = Object.entries(BUILTIN_SDKS).flatMap(([env, image]) => {
    const digest = contentDigest(image);
    return digest ? ["-e", `${env}=${digest}`] : [];
  });
  await docker`docker volume create ${NAME}`;
  const args = [
    "--name",
    NAME,
    "--privileged",
    "--label",
    "org.slipway.test=reproducible",
    "-v",
    `${NAME}:/var/lib/dagger`,
    "-v",
    `${config}:/etc/dagger/engine.json:ro`,
    "-v",
    `${certs}:${certs}:ro`,
    "-v",
    `${CONTENT_DIR}:${ENGINE_CONTENT_DIR}:ro`,
    ...sdks,
  ];
  const r = await docker`docker run -d ${args} ${ENGINE_IMAGE}`;
  expect(r.exitCode, r.stderr).toBe(0);
  relay = await startRelay();
  const deadline = Date.now() + 120_000;
  for (;;) {
    const v = await $({
      quiet: true,
      nothrow: true,
      env: { ...process.env, _EXPERIMENTAL_DAGGER_RUNNER_HOST: RUNNER_HOST },
    })`${DAGGER_CLI} core version`;
    if (v.exitCode === 0) return;
    if ((await docker`docker inspect --format {{.State.Running}} ${NAME}`).stdout.trim() !== "true") {
      throw new Error(`the second engine stopped: ${(await docker`docker logs --tail 5 ${NAME}`).stderr}`);
    }
    if (Date.now() > deadline)
      throw new Error(`the second engine did not answer in 120 s: ${(await docker`docker logs --tail 5 ${NAME}`).stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

let relay: ChildProcess | undefined;

/** 127.0.0.1:PORT in the second engine's network namespace, piped to the registry front's unix socket. */
async function startRelay(): Promise<ChildProcess> {
  const pid = (await docker`docker inspect --format {{.State.Pid}} ${NAME}`).stdout.trim();
  const code = `const net = require("node:net");
    net.createServer((c) => {
      const u = net.connect(${JSON.stringify(REGISTRY_FRONT_SOCKET)});
      c.pipe(u).pipe(c);
      c.on("error", () => u.destroy());
      u.on("error", () => c.destroy());
    }).listen(${REGISTRY_PORT}, "127.0.0.1", () => console.log("relaying"));`;
  const child = spawn("nsenter", ["-t", pid, "-n", process.execPath, "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (c) => reject(new Error(`the registry relay in the second engine's namespace exited with ${c}`)));
  });
  return child;
}

async function removeEngine(): Promise<void> {
  relay?.kill();
  relay = undefined;
  await docker`docker rm -f ${NAME}`;
  await docker`docker volume rm -f ${NAME}`;
}

/** `slipway publish` of the source on the engine at runnerHost (default: the shared one); the digest it printed. */
async function publish(source: string, repository: string, runnerHost?: string): Promise<{ digest: string; seconds: number; out: string }> {
  const env = { ...process.env, ...(runnerHost ? { _EXPERIMENTAL_DAGGER_RUNNER_HOST: runnerHost } : {}) };
  const started = Date.now();
  const r = await run(process.execPath, [CLI, "publish", "--source", source, "--repository", repository], { env, timeout: 1_200_000 });
  expect(r.code, r.out).toBe(0);
  const m = new RegExp(`^publish: ${repository.replace(/[.]/g, "\\.")}@(sha256:[0-9a-f]{64}) `, "m").exec(r.out);
  expect(m, r.out).not.toBeNull();
  return { digest: m![1], seconds: (Date.now() - started) / 1000, out: r.out };
}

/** The manifest and config the registry serves for a tag. */
async function image(
  repository: string,
  tag: string,
): Promise<{
  manifest: { layers: { digest: string }[] };
  config: { created: string; history: { created: string }[]; config: { Labels: Record<string, string> } };
}> {
  const path = repository.slice(repository.indexOf("/") + 1);
  const manifest = await (await fetch(`http://${REGISTRY}/v2/${path}/manifests/${tag}`, { headers: { Accept: MANIFEST_TYPES } })).json();
  const config = await (await fetch(`http://${REGISTRY}/v2/${path}/blobs/${manifest.config.digest}`)).json();
  return { manifest, config };
}

let source: string;
let sha: string;
let created: string;

beforeAll(async () => {
  // a commit of its own: the example at a fixed place in history, as a checkout gives it
  source = copyExample(tempDir("repro"));
  const git = $({ cwd: source, quiet: true });
  await git`git init -q`;
  await git`git add -A`;
  await git`git -c user.name=Slipway -c user.email=slipway@example.com commit -q -m ${"node-api, reproducibly"}`;
  sha = (await git`git rev-parse HEAD`).stdout.trim();
  created = (await git`git log -1 --format=%cI`).stdout.trim();
  await removeEngine(); // a leftover of an interrupted run of this process id
});

afterAll(removeEngine);

describe("reproducible builds", () => {
  it("the same commit published on a warm engine and on an engine with an empty cache has the same digest", async () => {
    // the two repositories differ only by their registry namespace: the image's title (the last path part) is the same
    const warm = await publish(source, `${REGISTRY}/repro-warm/node-api`);
    await startEngine();
    const cold = await publish(source, `${REGISTRY}/repro-cold/node-api`, RUNNER_HOST);
    process.stderr.write(
      `reproducible: warm ${warm.digest} in ${warm.seconds.toFixed(1)}s, empty cache ${cold.digest} in ${cold.seconds.toFixed(1)}s\n`,
    );

    const a = await image(`${REGISTRY}/repro-warm/node-api`, sha);
    const b = await image(`${REGISTRY}/repro-cold/node-api`, sha);
    // on failure, the first difference tells which part is not reproducible: a layer (RUN output) or the config
    expect(b.manifest.layers.map((l) => l.digest)).toEqual(a.manifest.layers.map((l) => l.digest));
    expect(b.config).toEqual(a.config);
    expect(cold.digest).toBe(warm.digest);

    // every time in the image is the commit's
    const time = new Date(created).toISOString().replace(/\.000Z$/, "Z");
    expect(a.config.created).toBe(time);
    expect(a.config.history.length).toBe(a.manifest.layers.length);
    for (const h of a.config.history) expect(h.created).toBe(time);
    expect(a.config.config.Labels["org.opencontainers.image.created"]).toBe(created);
    // both tags point to the digest publish printed
    for (const tag of [sha, sha.slice(0, 12)]) {
      const r = await fetch(`http://${REGISTRY}/v2/repro-cold/node-api/manifests/${tag}`, {
        method: "HEAD",
        headers: { Accept: MANIFEST_TYPES },
      });
      expect(r.headers.get("docker-content-digest")).toBe(cold.digest);
    }
  }, 1_800_000);
});
