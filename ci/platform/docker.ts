/** Step: a Docker engine from Debian's packages, started by Slipway when none runs. */
import { readFileSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { aptInstall, ensureDir, paths, readState, requireRoot, startDaemon, tail, waitFor, writeState } from "./host.ts";
import { StepError, type Step } from "./steps.ts";

const TITLE = "Docker engine";
export const RUNC_WRAPPER = "/usr/local/lib/slipway/runc";
const CAP_SYS_RESOURCE = 24n;

export async function dockerAnswers(): Promise<boolean> {
  return (await $`docker info --format '{{.ServerVersion}}'`.nothrow()).exitCode === 0;
}

/** True when the capability bounding set lacks CAP_SYS_RESOURCE, so privileged containers need the runc wrapper. */
export function hostLacksSysResource(): boolean {
  const line = readFileSync("/proc/self/status", "utf8")
    .split("\n")
    .find((l) => l.startsWith("CapBnd:"));
  if (!line) return false;
  return (BigInt("0x" + line.split(/\s+/)[1]) & (1n << CAP_SYS_RESOURCE)) === 0n;
}

/** Writes the runc wrapper (see files/runc-wrapper.sh) pointing at `realRunc`, to `dest`. */
export function writeRuncWrapper(dest: string, realRunc: string): void {
  const src = readFileSync(new URL("./files/runc-wrapper.sh", import.meta.url), "utf8");
  ensureDir(join(dest, ".."));
  writeFileSync(dest, src.replace("@REAL_RUNC@", realRunc));
  chmodSync(dest, 0o755);
}

async function privilegedWorks(): Promise<boolean> {
  const img = await $`docker images -q debian:bookworm-slim`.nothrow();
  if (!img.stdout.trim()) return true; // nothing to test with yet; the engine step finds out
  return (await $`docker run --rm --privileged --network none debian:bookworm-slim true`.nothrow()).exitCode === 0;
}

export const dockerStep: Step = {
  title: TITLE,
  async done() {
    if (!(await dockerAnswers())) return undefined;
    const v = await $`docker info --format '{{.ServerVersion}}'`;
    if (!(await privilegedWorks())) {
      throw new StepError(
        TITLE,
        "the running Docker engine cannot start privileged containers (CAP_SYS_RESOURCE is not in this host's bounding set)",
        `stop it and rerun, so Slipway starts dockerd with its runc wrapper; or set its default runtime to ${RUNC_WRAPPER}`,
      );
    }
    return `Docker ${v.stdout.trim()} answers${readState().dockerd ? " (started by slipway)" : ""}`;
  },
  async run(progress) {
    requireRoot(TITLE, "and starting the Docker engine");
    await aptInstall(TITLE, ["docker.io", "jq", "iptables"], progress);
    const config: Record<string, unknown> = { "storage-driver": "overlay2" };
    if (hostLacksSysResource()) {
      progress("this host's capability set lacks CAP_SYS_RESOURCE: privileged containers get Slipway's runc wrapper");
      writeRuncWrapper(RUNC_WRAPPER, "/usr/sbin/runc");
      config.runtimes = { "slipway-runc": { path: RUNC_WRAPPER } };
      config["default-runtime"] = "slipway-runc";
    }
    const configFile = join(ensureDir(paths.cache), "dockerd.json");
    writeFileSync(configFile, JSON.stringify(config, null, 2) + "\n");
    progress("starting dockerd (log: " + join(paths.logs, "dockerd.log") + ")");
    const pid = startDaemon("dockerd", "dockerd", ["--config-file", configFile]);
    writeState({ dockerd: pid });
    if (!(await waitFor(dockerAnswers, 60))) {
      throw new StepError(
        TITLE,
        `dockerd did not answer within 60s: ${tail(join(paths.logs, "dockerd.log"))}`,
        `read ${join(paths.logs, "dockerd.log")}`,
      );
    }
    const v = await $`docker info --format '{{.ServerVersion}}'`;
    return `Docker ${v.stdout.trim()} started (pid ${pid})`;
  },
};
