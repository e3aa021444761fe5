/**
 * `slipway pipeline`: the stages that exist so far (lint, typecheck, test), in parallel in one session, with a
 * summary. Defaults to the bundled example, so `npm run pipeline` needs no arguments.
 */
import { connection, dag } from "@dagger.io/dagger";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { EXCLUDE, Node, type StageResult } from "../../modules/node/src/index.ts";
import { useEngine } from "./engine/connection.ts";
import { exportReports, type StageName, STAGES } from "./stages.ts";

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
    process.stdout.write(`Usage: slipway pipeline [--source DIR] [--reports DIR]\n\nRuns ${Object.keys(STAGES).join(", ")} in parallel (default source: examples/node-api).\n`);
    return 0;
  }
  const source = resolve(values.source!);
  await useEngine({ quiet: false, check: false });
  const rows: { stage: StageName; result: StageResult; seconds: number }[] = [];
  const started = Date.now();
  await connection(async () => {
    const dir = dag.host().directory(source, { exclude: EXCLUDE });
    const node = new Node();
    await Promise.all((Object.keys(STAGES) as StageName[]).map(async (stage) => {
      const t0 = Date.now();
      const result = await node[stage](dir);
      await exportReports(result, values.reports!);
      rows.push({ stage, result, seconds: (Date.now() - t0) / 1000 });
    }));
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
