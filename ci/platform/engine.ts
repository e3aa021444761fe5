/** Step: the Dagger engine, run as a privileged container with a persistent cache volume. */
import { createHash } from "node:crypto";
import { chmodSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { $ } from "zx";
import { DAGGER_CLI } from "./dagger.ts";
import { ensureDir, paths, readState, writeState } from "./host.ts";
import { REGISTRY } from "./registry.ts";
import { StepError, type Step } from "./steps.ts";
import { BUILTIN_SDKS, DAGGER_VERSION, ENGINE_IMAGE, MIRRORED_REGISTRIES } from "./versions.ts";
import { CONTENT_DIR, contentDigest, ENGINE_CONTENT_DIR } from "./images/content.ts";

const TITLE = "Dagger engine";
/**
 * The name the stock Dagger CLI gives the engine it would start for ENGINE_IMAGE, so a plain `dagger` in a
 * shell finds this engine with no settings at all.
 */
export const ENGINE_CONTAINER = `dagger-engine-${DAGGER_VERSION}`;
/** The engine's state (BuildKit cache, cache volumes): survives `engine down`. */
export const ENGINE_VOLUME = "slipway-engine-state";
export const RUNNER_HOST = `docker-container://${ENGINE_CONTAINER}`;
/**
 * The engine's own API socket (/run/buildkit in its container), bind-mounted to this host: a root-only unix socket
 * (directory mode 0700). A session through it starts in about 0.1 s, against 0.6 s through `docker exec`
 * (RUNNER_HOST, which stays the setting written to engine.env for shells and containers that lack this path).
 */
export const ENGINE_SOCKET = join(paths.cache, "engine-socket", "buildkitd.sock");
const SOCKET_MOUNT = `${dirname(ENGINE_SOCKET)}:/run/buildkit`;
/** A registry mirror that replaces the local one, e.g. a corporate pull-through cache ("mirror.corp.example:5000"). */
export const EXTERNAL_MIRROR = process.env.SLIPWAY_REGISTRY_MIRROR;

export function engineConfig(): object {
  const mirror = EXTERNAL_MIRROR ?? REGISTRY;
  const registries: Record<string, object> = Object.fromEntries(MIRRORED_REGISTRIES.map((r) => [r, { mirrors: [mirror] }]));
  if (!EXTERNAL_MIRROR || process.env.SLIPWAY_REGISTRY_MIRROR_HTTP === "1") registries[mirror] = { http: true };
  if (EXTERNAL_MIRROR) registries[REGISTRY] = { http: true };
  // the build cache is bounded: the disk may be shared and its free space vary (a full disk fails every build);
  // the collector keeps the cache under SLIPWAY_ENGINE_CACHE_MAX and prunes to leave 10GB free, keeping at least 5GB.
  // 50GB: a day of runs fills about 30GB, and a collector pruning while a suite runs made execs fail with
  // "snapshot ... does not exist" (at 30GB, 2026-12-04)
  const gc = { maxUsedSpace: process.env.SLIPWAY_ENGINE_CACHE_MAX ?? "50GB", minFreeSpace: "10GB", reservedSpace: "5GB" };
  return { logLevel: "info", registries, gc };
}

/** Settings for the Dagger SDK and CLI; `connection.ts` loads them for slipway and the tests. */
export function connectionEnv(): Record<string, string> {
  return {
    _EXPERIMENTAL_DAGGER_CLI_BIN: DAGGER_CLI,
    _EXPERIMENTAL_DAGGER_RUNNER_HOST: RUNNER_HOST,
    DAGGER_NO_NAG: "1",
    DO_NOT_TRACK: "1",
    // the docker.io mirror as this host reaches it: the integration stage's Docker engine pulls through it
    SLIPWAY_DOCKER_MIRROR: EXTERNAL_MIRROR ?? REGISTRY,
    // where images are published by default (the local registry, when `engine up` runs one)
    ...(EXTERNAL_MIRROR ? {} : { SLIPWAY_REGISTRY: REGISTRY }),
  };
}

/** The engine container `engine up` started is running (a quick check before anything that would wait on it). */
export async function engineContainerRunning(): Promise<boolean> {
  const r = await $`docker inspect --format {{.State.Running}} ${ENGINE_CONTAINER}`.nothrow();
  return r.stdout.trim() === "true";
}

/** One `dagger core version` round trip through the engine: proves the engine answers sessions. */
export async function engineAnswers(timeout: `${number}s` = "60s"): Promise<string | undefined> {
  const r = await $({ env: { ...process.env, ...connectionEnv() } })`${DAGGER_CLI} core version`.nothrow().timeout(timeout);
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

async function containerInfo(): Promise<{ running: boolean; image: string; config: string } | undefined> {
  const r =
    await $`docker inspect --format ${'{{.State.Running}} {{.Image}} {{index .Config.Labels "org.slipway.config"}}'} ${ENGINE_CONTAINER}`.nothrow();
  if (r.exitCode !== 0) return undefined;
  const [running, image, config] = r.stdout.trim().split(" ");
  return { running: running === "true", image, config };
}

async function engineImageId(): Promise<string> {
  return (await $`docker image inspect --format {{.Id}} ${ENGINE_IMAGE}`.nothrow()).stdout.trim();
}

/** The builtin SDKs' manifest digests, as the engine reads them from its environment (module mode). */
function sdkEnv(): string[] {
  return Object.entries(BUILTIN_SDKS).flatMap(([name, image]) => {
    const digest = contentDigest(image);
    return digest ? [`${name}=${digest}`] : [];
  });
}

function configFile(): { file: string; hash: string } {
  const text = JSON.stringify(engineConfig(), null, 2) + "\n";
  const file = join(ensureDir(paths.cache), "engine.json");
  writeFileSync(file, text);
  const hash = createHash("sha256").update(file).update(text).update(sdkEnv().join("\n")).update(SOCKET_MOUNT);
  return { file, hash: hash.digest("hex").slice(0, 16) };
}

export const engineStep: Step = {
  title: TITLE,
  async done() {
    const info = await containerInfo();
    if (!info?.running) return undefined;
    if (info.image !== (await engineImageId()) || info.config !== configFile().hash) return undefined;
    const v = await engineAnswers();
    return v ? `${ENGINE_CONTAINER} answers (${v})` : undefined;
  },
  async run(progress) {
    const { file, hash } = configFile();
    const info = await containerInfo();
    let started: Started;
    if (info && info.image === (await engineImageId()) && info.config === hash) {
      progress(`starting the stopped ${ENGINE_CONTAINER} (volume ${ENGINE_VOLUME})`);
      await $`docker start ${ENGINE_CONTAINER}`;
      writeState({ engine: ENGINE_CONTAINER });
      started = await waitUntilAnswering("started again");
    } else {
      if (info) {
        progress(`replacing ${ENGINE_CONTAINER} (image or configuration changed); volume ${ENGINE_VOLUME} stays`);
        await $`docker rm -f ${ENGINE_CONTAINER}`;
      }
      started = await runEngine(file, hash, progress);
    }
    if (typeof started === "string") return started;
    // BuildKit keeps its cache records and its snapshots in two databases: a kill at the wrong moment (the engine's
    // or dockerd's SIGKILL, a power cut) can leave them disagreeing, and then the engine exits at every start. The
    // volume holds only a cache, so it is started over rather than leaving the machine without an engine.
    const broken = unusableState(started.logs);
    if (!broken) throw notAnswering(started);
    progress(`the engine's cache in volume ${ENGINE_VOLUME} is unusable (${broken}): removing it and starting with an empty cache`);
    await $`docker rm -f ${ENGINE_CONTAINER}`;
    await $`docker volume rm ${ENGINE_VOLUME}`;
    const again = await runEngine(file, hash, progress);
    if (typeof again === "string") return `${again}, with an empty cache: the next runs rebuild what they need`;
    throw notAnswering(again);
  },
};

async function runEngine(file: string, hash: string, progress: (line: string) => void): Promise<Started> {
  const certs = "/usr/local/share/ca-certificates";
  progress(`docker run ${ENGINE_CONTAINER} (cache volume ${ENGINE_VOLUME}, mirror ${EXTERNAL_MIRROR ?? REGISTRY})`);
  // Host networking: the engine reaches the mirror, the npm registry and anything published to 127.0.0.1:5000
  // exactly as the host does; its containers still get their own network (CNI bridge inside the engine).
  const args = [
    "--name",
    ENGINE_CONTAINER,
    "--privileged",
    "--network",
    "host",
    "--label",
    `org.slipway.config=${hash}`,
    "--label",
    "org.slipway.managed=true",
    "-v",
    `${ENGINE_VOLUME}:/var/lib/dagger`,
    "-v",
    `${file}:/etc/dagger/engine.json:ro`,
    "-v",
    `${certs}:${certs}:ro`,
    "-v",
    `${ensureDir(CONTENT_DIR)}:${ENGINE_CONTENT_DIR}:ro`,
    "-v",
    SOCKET_MOUNT,
    ...sdkEnv().flatMap((e) => ["-e", e]),
  ];
  chmodSync(ensureDir(dirname(ENGINE_SOCKET)), 0o700);
  const r = await $`docker run -d ${args} ${ENGINE_IMAGE}`.nothrow();
  if (r.exitCode !== 0) {
    throw new StepError(TITLE, `docker run failed: ${r.stderr.trim().split("\n").pop()}`, "see `docker logs " + ENGINE_CONTAINER + "`");
  }
  writeState({ engine: ENGINE_CONTAINER });
  return waitUntilAnswering("started");
}

/** What a start gave: the line for the step, or why the engine does not answer. */
type Started = string | { exited: boolean; logs: string[] };

/**
 * The cause when the engine's log says its state cannot be loaded (it exits at start with "failed to create base
 * worker: ..."), undefined for any other failure.
 */
export function unusableState(logs: string[]): string | undefined {
  for (const line of [...logs].reverse()) {
    const m = /failed to create base worker: (.+)$/.exec(line.trim());
    if (m) return m[1];
  }
  return undefined;
}

/** Waits for the engine to answer; stops waiting as soon as its container has exited (it will not answer then). */
async function waitUntilAnswering(what: string): Promise<Started> {
  let version: string | undefined;
  let exited = false;
  let waiting = true;
  // the CLI keeps retrying against an engine that has exited: a watch on the container ends the wait instead
  const watch = (async () => {
    while (waiting && !exited) {
      await new Promise((r) => setTimeout(r, 1000));
      // a moment after `docker start` the container may not run yet: only two looks in a row count
      if (!(await engineContainerRunning()) && !(await engineContainerRunning())) exited = true;
    }
  })();
  const deadline = Date.now() + 90_000;
  while (!exited && version === undefined && Date.now() < deadline) {
    const tried = await Promise.race([engineAnswers(), watch.then(() => undefined)]);
    if (tried !== undefined) version = tried;
    else if (!exited) await new Promise((r) => setTimeout(r, 250));
  }
  waiting = false;
  await watch;
  if (version !== undefined) return `${ENGINE_CONTAINER} ${what} (${version})`;
  exited = exited || !(await engineContainerRunning());
  const logs = (await $`docker logs --tail 5 ${ENGINE_CONTAINER}`.nothrow()).stderr.trim().split("\n");
  return { exited, logs };
}

function notAnswering(s: Exclude<Started, string>): StepError {
  const how = s.exited ? "the engine exited at start" : "the engine did not answer within 90s";
  return new StepError(TITLE, `${how}: ${s.logs.join(" | ")}`, `read \`docker logs ${ENGINE_CONTAINER}\``);
}

export function startedByUs(): boolean {
  return readState().engine === ENGINE_CONTAINER;
}
