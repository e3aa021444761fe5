/**
 * `npm test`: the whole suite on the real engine, in three lanes. The engine (and every tool image) is brought up
 * first, once, with its progress; then two lanes run side by side, each one file after another: the files that
 * deploy to the local targets (they share the targets' apps and ports), and the files that only use the engine and
 * the registry; then the files that stop, restart or kill the engine, or change what the registry mirror serves,
 * run alone. On a 2-core machine most of a file's time is spent waiting (gates, health checks, the registry,
 * cosign), so two lanes take about two thirds of one.
 *
 * `npm test -- FILE...` (or any vitest argument) runs plain `vitest run` with them, in one process.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { EXCLUSIVE, TARGET_FILES } from "../../vitest.config.ts";

const ROOT = join(import.meta.dirname, "../..");
const VITEST = join(ROOT, "node_modules/vitest/vitest.mjs");

/** Runs a command with its output lines prefixed (a lane's name, when it has one); resolves with its exit code. */
function run(label: string, cmd: string, args: string[], name = label): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    for (const [from, to] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ] as const) {
      let rest = "";
      from.on("data", (c: Buffer) => {
        const lines = (rest + c.toString()).split("\n");
        rest = lines.pop()!;
        for (const l of lines) to.write(label ? `[${label}] ${l}\n` : `${l}\n`);
      });
      from.on("end", () => rest && to.write(label ? `[${label}] ${rest}\n` : `${rest}\n`));
    }
    child.on("close", (code, signal) => {
      const status = code ?? (signal ? 128 : 1);
      process.stdout.write(
        `${name}: ${status === 0 ? "passed" : `failed (exit ${status})`} in ${((Date.now() - t0) / 1000).toFixed(0)}s\n`,
      );
      resolve(status);
    });
  });
}

const vitest = (label: string, args: string[]) => run(label, process.execPath, [VITEST, "run", ...args]);

async function main(argv: string[]): Promise<number> {
  if (argv.length) return run("", process.execPath, [VITEST, "run", ...argv], "vitest");
  const t0 = Date.now();
  // the engine, the registry, the targets' images and every tool image, once, before any lane starts
  const up = await run("", process.execPath, [join(ROOT, "ci/bin/slipway.js"), "engine", "up"], "slipway engine up");
  if (up !== 0) return up;
  const codes = await Promise.all([
    vitest("targets", TARGET_FILES),
    vitest(
      "engine",
      [...TARGET_FILES, ...EXCLUSIVE].flatMap((f) => ["--exclude", f]),
    ),
  ]);
  codes.push(await vitest("alone", EXCLUSIVE));
  const failed = codes.filter((c) => c !== 0).length;
  process.stdout.write(
    `\nnpm test: ${failed ? `${failed} lane(s) failed` : "every lane passed"} in ${((Date.now() - t0) / 1000).toFixed(0)}s (targets and engine side by side, then alone)\n`,
  );
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
