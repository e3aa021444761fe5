/** Step: the Dagger CLI and engine binaries, built from the Go module proxy at the pinned version. */
import { spawn } from "node:child_process";
import { existsSync, lstatSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { $ } from "zx";
import { commandExists, paths, requireDisk } from "./host.ts";
import { StepError, type Step } from "./steps.ts";
import { DAGGER_MODULE_SUMS, DAGGER_VERSION } from "./versions.ts";

const TITLE = `Dagger ${DAGGER_VERSION} binaries`;
export const DAGGER_BIN_DIR = join(paths.cache, "dagger", DAGGER_VERSION, "bin");
export const DAGGER_CLI = join(DAGGER_BIN_DIR, "dagger");
export const DAGGER_BINARIES = ["dagger", "dagger-engine", "dagger-init", "dial-stdio", "dnsname", "codegen"];
/** Where the built CLI is linked so that `dagger` works in a shell. */
const CLI_LINK = "/usr/local/bin/dagger";

function linkCli(): void {
  try {
    if (lstatSync(CLI_LINK).isSymbolicLink() && readlinkSync(CLI_LINK) === DAGGER_CLI) return;
    rmSync(CLI_LINK); // replace an older link or binary of another version
  } catch {
    /* no link yet */
  }
  symlinkSync(DAGGER_CLI, CLI_LINK);
}

export async function cliVersion(): Promise<string | undefined> {
  const r = await $`${DAGGER_CLI} version`.nothrow();
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

export const daggerStep: Step = {
  title: TITLE,
  async done() {
    if (!DAGGER_BINARIES.every((b) => existsSync(join(DAGGER_BIN_DIR, b)))) return undefined;
    const v = await cliVersion();
    if (!v?.includes(DAGGER_VERSION)) return undefined;
    linkCli();
    return `cached in ${DAGGER_BIN_DIR}`;
  },
  async run(progress) {
    if (!(await commandExists("go"))) {
      throw new StepError(
        TITLE,
        "Go is not installed (it builds Dagger from the Go module proxy)",
        "install Go >= 1.21 from your distribution or go.dev; newer toolchains are fetched through the proxy",
      );
    }
    requireDisk(TITLE, 6);
    progress("building from the Go module proxy: about 1 GB of modules and 10-20 minutes on 2 cores, once per version");
    const script = new URL("./build-dagger.sh", import.meta.url).pathname;
    const child = spawn("bash", [script, DAGGER_VERSION, DAGGER_BIN_DIR], {
      env: { ...process.env, SLIPWAY_CACHE: paths.cache, DAGGER_SUMS: DAGGER_MODULE_SUMS.join(" ") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (l) => {
        lines.push(l);
        if (l.startsWith("  [dagger")) progress(l.trim());
      });
    }
    const code = await new Promise<number>((res) => child.on("close", (c) => res(c ?? 1)));
    if (code !== 0) {
      const last = lines
        .filter((l) => l.trim())
        .slice(-2)
        .join(" | ");
      throw new StepError(TITLE, `build failed: ${last}`, "check that the Go module proxy is reachable (go env GOPROXY), then rerun");
    }
    linkCli();
    return `built into ${DAGGER_BIN_DIR}: ${await cliVersion()}`;
  },
};
