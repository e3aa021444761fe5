/**
 * How slipway, the tests and any script reach the engine: `engine up` writes the connection settings to the
 * machine cache; `useEngine()` loads them into this process (unless a session already exists, e.g. under
 * `dagger run`), bringing the engine up first when it does not answer.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { paths } from "./host.ts";
import { connect } from "node:net";
import { ENGINE_CONTAINER, ENGINE_SOCKET, engineContainerRunning, RUNNER_HOST } from "./engine.ts";
import { readConnection } from "./settings.ts";

/** True when this process already has an engine session (dagger run, or settings the user exported). */
export function hasExplicitEngine(): boolean {
  return Boolean(process.env.DAGGER_SESSION_PORT || process.env._EXPERIMENTAL_DAGGER_CLI_BIN);
}

/**
 * Loads connection settings into process.env, running `engine up` when needed. Returns how it connected.
 * tools: "background" (default): the supply-chain tool images are not waited for; when one is missing, a detached
 * builder makes them after the engine is ready (a stage that needs one calls waitForTools, tools.ts).
 * "foreground": every image before returning, as `slipway engine up` does.
 */
export async function useEngine(opts: { quiet?: boolean; check?: boolean; tools?: "background" | "foreground" } = {}): Promise<string> {
  const transport = async () => {
    await preferSocket();
    if (watchWanted) ownSession();
  };
  const tools = opts.tools ?? "background";
  // settings exported from engine.env name Slipway's own engine container: bring it back if it stopped
  const ours = OURS.includes(process.env._EXPERIMENTAL_DAGGER_RUNNER_HOST ?? "") && !process.env.DAGGER_SESSION_PORT;
  if (hasExplicitEngine() && !(ours && !(await engineContainerRunning()))) {
    if (ours) await Promise.all([toolImages(tools), transport()]);
    watchEngine();
    return "the session or CLI set in the environment";
  }
  const saved = readConnection();
  if (saved && opts.check === false && (await engineContainerRunning())) {
    Object.assign(process.env, saved);
    await Promise.all([toolImages(tools), transport()]);
    watchEngine();
    return `${process.env._EXPERIMENTAL_DAGGER_RUNNER_HOST}`;
  }
  const { up } = await import("./up.ts");
  await up({ quiet: opts.quiet, tools });
  Object.assign(process.env, readConnection());
  await transport();
  watchEngine();
  return `${process.env._EXPERIMENTAL_DAGGER_RUNNER_HOST}`;
}

/** Slipway's engine, as the settings name it: through `docker exec` (engine.env), or its socket on this host. */
const OURS = [RUNNER_HOST, `unix://${ENGINE_SOCKET}`];

/**
 * Sessions of this process go through the engine's socket on this host when it answers (0.1 s to connect instead
 * of 0.6 s through `docker exec`); otherwise (an engine started before the socket was mounted, a container without
 * this path) the settings stay as engine.env has them.
 */
async function preferSocket(): Promise<void> {
  if (process.env._EXPERIMENTAL_DAGGER_RUNNER_HOST !== RUNNER_HOST || !existsSync(ENGINE_SOCKET)) return;
  const answers = await new Promise<boolean>((resolve) => {
    const s = connect(ENGINE_SOCKET, () => (s.destroy(), resolve(true)));
    s.on("error", () => resolve(false));
  });
  if (answers) process.env._EXPERIMENTAL_DAGGER_RUNNER_HOST = `unix://${ENGINE_SOCKET}`;
}

/** With the engine already running: starts the background tool builder when a tool image is missing, or builds them here. */
async function toolImages(tools: "background" | "foreground"): Promise<void> {
  if (tools === "background") {
    const { startToolBuilder } = await import("./tools.ts");
    await startToolBuilder();
    return;
  }
  const { toolSteps, releaseForeground } = await import("./tools.ts");
  const { runSteps } = await import("./steps.ts");
  try {
    await runSteps(toolSteps(), { quiet: true });
  } finally {
    releaseForeground();
  }
}

let watching = false;
let watchWanted = false;

/**
 * The CLI's engine sessions run in a session (process group) of their own: a Ctrl-C to the terminal's group reaches
 * slipway, which puts an interrupted deploy right on that same engine session and only then ends it. Were the
 * session ended by the Ctrl-C, the deploy's controller container would still be running and reach for the target's
 * Docker socket through a session that is gone, which crashes Dagger v0.19.10's engine (core/socket.go,
 * ConnectSocket). The session still ends with slipway: it exits when its stdin closes.
 */
function ownSession(): void {
  const cli = process.env._EXPERIMENTAL_DAGGER_CLI_BIN;
  if (!cli || cli.endsWith("/session-wrapper/dagger") || !existsSync("/usr/bin/setsid")) return;
  const wrapper = join(paths.cache, "session-wrapper", "dagger");
  const text = `#!/bin/sh\n# the Dagger CLI in a session of its own (ci/platform/connection.ts, ownSession)\nexec /usr/bin/setsid ${JSON.stringify(cli)} "$@"\n`;
  if (!existsSync(wrapper) || readFileSync(wrapper, "utf8") !== text) {
    mkdirSync(dirname(wrapper), { recursive: true });
    writeFileSync(`${wrapper}.tmp`, text, { mode: 0o755 });
    renameSync(`${wrapper}.tmp`, wrapper);
  }
  process.env._EXPERIMENTAL_DAGGER_CLI_BIN = wrapper;
}

/** The CLI asks for the watch (a library user of useEngine, such as the test runner, does not get its process ended). */
export function watchEngineDuringRun(): void {
  watchWanted = true;
}

/**
 * Ends the process with a clear error when the engine's container stops during the run: the session would
 * otherwise keep trying to reconnect for minutes. Only for an engine in a Docker container (Slipway's own).
 */
function watchEngine(): void {
  const host = process.env._EXPERIMENTAL_DAGGER_RUNNER_HOST ?? "";
  const container = host === `unix://${ENGINE_SOCKET}` ? ENGINE_CONTAINER : /^docker-container:\/\/(.+)$/.exec(host)?.[1];
  if (!container || watching || !watchWanted) return;
  watching = true;
  let misses = 0;
  const timer = setInterval(() => {
    // in a process group of its own: a Ctrl-C to the CLI's group must not end the probe and read as a stopped engine
    const probe = spawn("docker", ["inspect", "-f", "{{.State.Running}}", container], {
      detached: true,
      stdio: ["ignore", "pipe", "ignore"],
    });
    let out = "";
    probe.stdout.on("data", (c: Buffer) => (out += c.toString()));
    probe.on("error", () => undefined);
    probe.on("close", (code, signal) => {
      if (signal) return; // the probe itself was ended, which says nothing about the engine
      misses = code === 0 && out.trim() === "true" ? 0 : misses + 1;
      if (misses < 2) return;
      process.stderr.write(
        `slipway: the Dagger engine (${container}) stopped during the run: check \`slipway engine status\`, then rerun (finished work is cached)\n`,
      );
      process.exit(1);
    });
  }, 2000);
  timer.unref();
}
