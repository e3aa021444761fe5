/** `slipway engine up|tools|status|import|down`. */
import { $ } from "zx";
import { cliVersion, DAGGER_BIN_DIR } from "./dagger.ts";
import { dockerAnswers } from "./docker.ts";
import { ENGINE_CONTAINER, ENGINE_VOLUME, engineAnswers, engineContainerRunning, RUNNER_HOST } from "./engine.ts";
import { paths, pidRuns, readState, writeState } from "./host.ts";
import { REGISTRY, registryAnswers } from "./registry.ts";
import { buildTools, toolStatusRows } from "./tools.ts";
import { up } from "./up.ts";
import { DAGGER_VERSION } from "./versions.ts";

/** Size of a tree, or a note when walking it takes longer than `status` should (large caches have millions of files). */
async function du(path: string): Promise<string> {
  const r = await $`timeout 5 du -sh ${path}`.nothrow();
  if (r.exitCode === 124) return "(large: not measured in 5 s; `du -sh` it)";
  return r.exitCode === 0 ? r.stdout.split("\t")[0] : "-";
}

async function status(): Promise<number> {
  const state = readState();
  const docker = await dockerAnswers();
  // a stopped engine container would keep the CLI retrying for a minute
  const engineVersion = docker && (await engineContainerRunning()) ? await engineAnswers() : undefined;
  const volume = docker ? (await $`docker volume inspect --format {{.Mountpoint}} ${ENGINE_VOLUME}`.nothrow()).stdout.trim() : "";
  const [engineSize, cacheSize] = await Promise.all([volume ? du(volume) : Promise.resolve(""), du(paths.cache)]);
  const rows: [string, string][] = [
    ["pinned Dagger", DAGGER_VERSION],
    ["Docker", docker ? `running${state.dockerd ? ` (started by slipway, pid ${state.dockerd})` : ""}` : "not running"],
    ["registry mirror", (await registryAnswers()) ? `${REGISTRY}${state.registry ? " (started by slipway)" : ""}` : "not running"],
    ["Dagger CLI", (await cliVersion()) ?? `not built (${DAGGER_BIN_DIR})`],
    ["engine", engineVersion ? `${ENGINE_CONTAINER} answers: ${engineVersion}` : "not running"],
    ["connect with", RUNNER_HOST],
    ...(await toolStatusRows()),
    ["engine cache", volume ? `${engineSize} in volume ${ENGINE_VOLUME}` : "-"],
    ["machine cache", `${cacheSize} in ${paths.cache}`],
  ];
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(16)} ${v}\n`);
  return engineVersion ? 0 : 3;
}

async function down(): Promise<number> {
  const state = readState();
  const stopped: string[] = [];
  if (state.engine && (await dockerAnswers())) {
    // the engine gets time to close its databases: a kill mid-write can leave a cache it cannot load (engine.ts)
    await $`docker stop --time 60 ${state.engine}`.nothrow();
    stopped.push(`engine ${state.engine} (volume ${ENGINE_VOLUME} kept)`);
  }
  for (const [name, pid, command] of [
    ["registry front", state.registryFront, "node"],
    ["docker-registry", state.registry, "docker-registry"],
    ["dockerd", state.dockerd, "dockerd"],
  ] as const) {
    if (!pidRuns(pid, command)) continue;
    process.kill(pid!, "SIGTERM");
    for (let i = 0; i < 120 && pidRuns(pid, command); i++) await new Promise((r) => setTimeout(r, 250));
    stopped.push(`${name} (pid ${pid})`);
  }
  writeState({ engine: undefined, registry: undefined, registryFront: undefined, dockerd: undefined });
  process.stdout.write(
    stopped.length ? `stopped: ${stopped.join(", ")}; caches in ${paths.cache} kept\n` : "nothing started by slipway is running\n",
  );
  return 0;
}

export async function engineCommand(sub: string | undefined, args: string[]): Promise<number> {
  switch (sub ?? "up") {
    case "up": {
      const t0 = Date.now();
      await up();
      process.stderr.write(
        `engine ready in ${((Date.now() - t0) / 1000).toFixed(1)}s with every image, the tool images too (\`dagger call\` ` +
          `needs them all; \`slipway pipeline\` and the stage commands build those in the background instead); settings in ${paths.connection}\n`,
      );
      return 0;
    }
    case "tools":
      return buildTools();
    case "status":
      return status();
    case "import": {
      const { importImages } = await import("./images/import.ts");
      return importImages(args[0]);
    }
    case "down":
      return down();
    default:
      process.stderr.write(`slipway engine: unknown subcommand "${sub}"; use up, tools, status, import or down\n`);
      return 2;
  }
}
