/**
 * `slipway pipeline`: the stages that exist so far in one session: lint, typecheck and test in parallel, then,
 * when they all pass, integration. Defaults to the bundled example, so `npm run pipeline` needs no arguments.
 */
import { connection, dag } from "@dagger.io/dagger";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { EXCLUDE, type StageResult } from "../../modules/node/src/index.ts";
import { useEngine } from "./engine/connection.ts";
import { exportReports, runNodeStage, type StageName, STAGES } from "./stages.ts";

/** Stages in waves: every stage of a wave runs in parallel; a wave starts only when the previous one passed. */
const WAVES: StageName[][] = [["lint", "typecheck", "test"], ["integration"]];

const EXAMPLE = join(import.meta.dirname, "../../examples/node-api");

export async function runPipeline(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      source: { type: "string", default: EXAMPLE },
      reports: { type: "string", default: "reports" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`Usage: slipway pipeline [--source DIR] [--reports DIR]\n\nRuns ${WAVES.map((w) => w.join(", ")).join(", then ")} (default source: examples/node-api).\n`);
    return 0;
  }
  const source = resolve(values.source!);
  await useEngine({ quiet: false, check: false });
  const rows: { stage: StageName; result: StageResult; seconds: number }[] = [];
  const started = Date.now();
  await connection(async () => {
    const dir = dag.host().directory(source, { exclude: EXCLUDE });
    for (const wave of WAVES) {
      if (rows.some((r) => r.result.status === "failed")) break;
      await Promise.all(wave.map(async (stage) => {
        const t0 = Date.now();
        const result = await runNodeStage(stage, dir, {});
        await exportReports(result, values.reports!);
        rows.push({ stage, result, seconds: (Date.now() - t0) / 1000 });
      }));
    }
  });
  rows.sort((a, b) => Object.keys(STAGES).indexOf(a.stage) - Object.keys(STAGES).indexOf(b.stage));
  process.stdout.write(`pipeline on ${source}\n`);
  for (const { stage, result, seconds } of rows) {
    process.stdout.write(`  ${stage.padEnd(10)} ${result.status.padEnd(15)} ${seconds.toFixed(1).padStart(6)}s  ${result.message}\n`);
  }
  const failed = rows.filter((r) => r.result.status === "failed");
  process.stdout.write(`${failed.length ? `failed: ${failed.map((r) => r.stage).join(", ")}` : "passed"} in ${((Date.now() - started) / 1000).toFixed(1)}s; reports in ${resolve(values.reports!)}\n`);
  return failed.length ? 1 : 0;
}
