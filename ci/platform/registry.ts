/** Step: a local OCI registry (Debian's docker-registry) that serves as the docker.io mirror. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { aptInstall, ensureDir, paths, readState, startDaemon, tail, waitFor, writeState } from "./host.ts";
import { StepError, type Step } from "./steps.ts";

const TITLE = "Local registry";
/** Where the mirror listens. Every interface, so containers inside the engine reach it through the host too. */
export const REGISTRY_PORT = Number(process.env.SLIPWAY_REGISTRY_PORT ?? 5000);
export const REGISTRY = `127.0.0.1:${REGISTRY_PORT}`;

export async function registryAnswers(): Promise<boolean> {
  try {
    const r = await fetch(`http://${REGISTRY}/v2/`, { signal: AbortSignal.timeout(2000) });
    return r.status === 200;
  } catch {
    return false;
  }
}

export const registryStep: Step = {
  title: TITLE,
  async done() {
    if (!(await registryAnswers())) return undefined;
    return `${REGISTRY} answers${readState().registry ? " (started by slipway)" : ""}`;
  },
  async run(progress) {
    await aptInstall(TITLE, ["docker-registry"], progress);
    const configFile = join(ensureDir(paths.cache), "registry.yml");
    writeFileSync(
      configFile,
      [
        "version: 0.1",
        "log: { level: warn }",
        `storage: { filesystem: { rootdirectory: ${ensureDir(paths.registryData)} }, delete: { enabled: true } }`,
        `http: { addr: ":${REGISTRY_PORT}" }`,
        "",
      ].join("\n"),
    );
    progress(`starting docker-registry on :${REGISTRY_PORT}, data in ${paths.registryData}`);
    const pid = startDaemon("registry", "docker-registry", ["serve", configFile]);
    writeState({ registry: pid });
    if (!(await waitFor(registryAnswers, 20))) {
      throw new StepError(
        TITLE,
        `registry did not answer on ${REGISTRY}: ${tail(join(paths.logs, "registry.log"))}`,
        `free port ${REGISTRY_PORT} or set SLIPWAY_REGISTRY_PORT`,
      );
    }
    return `${REGISTRY} started (pid ${pid})`;
  },
};
