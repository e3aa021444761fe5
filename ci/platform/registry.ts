/**
 * Step: the local OCI registry that serves as the docker.io mirror and takes published images. Debian's
 * docker-registry listens on a unix socket in a root-only directory; a small front (files/registry-front.mjs)
 * serves it on this host's loopback only: reads are anonymous, pushes and deletes need the registry's credentials
 * (written on first start to a root-only file). Containers inside the engine reach it through Dagger tunnels,
 * never through another interface.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { aptInstall, ensureDir, paths, pidRuns, readState, startDaemon, tail, waitFor, writeState } from "./host.ts";
import { StepError, type Step } from "./steps.ts";

const TITLE = "Local registry";
export const REGISTRY_PORT = Number(process.env.SLIPWAY_REGISTRY_PORT ?? 5000);
/** Where the registry answers: this host's loopback only. */
export const REGISTRY = `127.0.0.1:${REGISTRY_PORT}`;
/** The registry's private files: its credentials, the backend's socket, the front's socket (0700, root). */
export const REGISTRY_PRIVATE = join(paths.cache, "registry-private");
/** {"username","password"} for pushes and deletes; read by slipway when it pushes to the local registry. */
export const REGISTRY_CREDENTIALS = join(REGISTRY_PRIVATE, "credentials.json");
/** The front on a unix socket (mode 600): for a second engine in its own network namespace (tests). */
export const REGISTRY_FRONT_SOCKET = join(REGISTRY_PRIVATE, "front.sock");
const BACKEND_SOCKET = join(REGISTRY_PRIVATE, "backend.sock");
const FRONT_SCRIPT = fileURLToPath(new URL("./files/registry-front.mjs", import.meta.url));

/** The front's code version: a front started from older code is restarted. */
function frontVersion(): string {
  return createHash("sha256").update(readFileSync(FRONT_SCRIPT)).digest("hex").slice(0, 12);
}

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** The local registry's push credentials; undefined when this user cannot read them (not root) or none exist yet. */
export function localRegistryCredentials(): RegistryCredentials | undefined {
  try {
    return JSON.parse(readFileSync(REGISTRY_CREDENTIALS, "utf8")) as RegistryCredentials;
  } catch {
    return undefined;
  }
}

/** `Authorization` for a push or delete to the local registry (tests and image builds that talk HTTP to it). */
export function registryAuthorization(): string {
  const c = localRegistryCredentials();
  if (!c)
    throw new Error(`the local registry's credentials (${REGISTRY_CREDENTIALS}) are not readable: run as root after \`slipway engine up\``);
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

/** A repository or reference on the local registry (127.0.0.1:PORT or localhost:PORT). */
export function onLocalRegistry(ref: string): boolean {
  return new RegExp(`^(127\\.0\\.0\\.1|localhost):${REGISTRY_PORT}/`).test(ref);
}

/** The front answers (a 401 challenge to an anonymous ping) and runs the current code. */
export async function registryAnswers(version?: string): Promise<boolean> {
  try {
    const r = await fetch(`http://${REGISTRY}/v2/`, { signal: AbortSignal.timeout(2000) });
    const front = r.headers.get("x-slipway-registry");
    return r.status === 401 && front !== null && (version === undefined || front === version);
  } catch {
    return false;
  }
}

/** The backend answers through the front (an anonymous read: telling needs no credentials). */
async function backendAnswers(): Promise<boolean> {
  try {
    const r = await fetch(`http://${REGISTRY}/v2/_catalog?n=1`, { signal: AbortSignal.timeout(2000) });
    return r.status === 200;
  } catch {
    return false;
  }
}

function stop(pid: number | undefined, command: string): void {
  if (pidRuns(pid, command)) process.kill(pid!, "SIGTERM");
}

export const registryStep: Step = {
  title: TITLE,
  async done() {
    if (!(await registryAnswers(frontVersion())) || !(await backendAnswers())) return undefined;
    return `${REGISTRY} answers: anonymous reads, authenticated pushes${readState().registry ? " (started by slipway)" : ""}`;
  },
  async run(progress) {
    await aptInstall(TITLE, ["docker-registry"], progress);
    const dir = ensureDir(REGISTRY_PRIVATE);
    chmodSync(dir, 0o700);
    if (!existsSync(REGISTRY_CREDENTIALS)) {
      const credentials: RegistryCredentials = { username: "slipway", password: randomBytes(24).toString("base64url") };
      writeFileSync(REGISTRY_CREDENTIALS, JSON.stringify(credentials) + "\n", { mode: 0o600 });
      progress(`registry credentials written to ${REGISTRY_CREDENTIALS} (root only)`);
    }
    chmodSync(REGISTRY_CREDENTIALS, 0o600);
    const configFile = join(ensureDir(paths.cache), "registry.yml");
    writeFileSync(
      configFile,
      [
        "version: 0.1",
        "log: { level: warn }",
        `storage: { filesystem: { rootdirectory: ${ensureDir(paths.registryData)} }, delete: { enabled: true } }`,
        `http: { net: unix, addr: ${BACKEND_SOCKET} }`,
        "",
      ].join("\n"),
    );
    // what an earlier start left running (an older front, or a registry listening on TCP itself) is replaced
    const state = readState();
    stop(state.registry, "docker-registry");
    stop(state.registryFront, "node");
    await waitFor(async () => !pidRuns(state.registry, "docker-registry") && !pidRuns(state.registryFront, "node"), 10);

    progress(`starting docker-registry on ${BACKEND_SOCKET}, data in ${paths.registryData}`);
    const registry = startDaemon("registry", "docker-registry", ["serve", configFile]);
    writeState({ registry });
    if (!(await waitFor(async () => existsSync(BACKEND_SOCKET) && pidRuns(registry, "docker-registry"), 20))) {
      throw new StepError(
        TITLE,
        `docker-registry did not start: ${tail(join(paths.logs, "registry.log"))}`,
        `read ${join(paths.logs, "registry.log")}`,
      );
    }
    chmodSync(BACKEND_SOCKET, 0o600);
    progress(`starting the registry front on ${REGISTRY} (anonymous reads, pushes and deletes with credentials)`);
    const version = frontVersion();
    const front = startDaemon("registry-front", process.execPath, [
      FRONT_SCRIPT,
      "127.0.0.1",
      String(REGISTRY_PORT),
      REGISTRY_FRONT_SOCKET,
      BACKEND_SOCKET,
      REGISTRY_CREDENTIALS,
      version,
    ]);
    writeState({ registryFront: front });
    if (!(await waitFor(async () => (await registryAnswers(version)) && (await backendAnswers()), 20))) {
      throw new StepError(
        TITLE,
        `the registry did not answer on ${REGISTRY}: ${tail(join(paths.logs, "registry-front.log"))} ${tail(join(paths.logs, "registry.log"))}`.trim(),
        `free port ${REGISTRY_PORT} or set SLIPWAY_REGISTRY_PORT`,
      );
    }
    return `${REGISTRY} started (registry pid ${registry}, front pid ${front})`;
  },
};
