/** `slipway lint|typecheck|test`: the code stages in client mode, with reports exported to the host. */
import { connection, dag } from "@dagger.io/dagger";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { EXCLUDE, Node, type StageResult } from "../../modules/node/src/index.ts";
import { useEngine } from "./engine/connection.ts";

export const STAGES = {
  lint: "lint with the project's \"lint\" script, else ESLint when configured",
  typecheck: "type-check with the \"typecheck\" script, else tsc --noEmit",
  test: "unit tests with the \"test\" script; JUnit report in --reports",
} as const;
export type StageName = keyof typeof STAGES;


/** Writes a stage's reports to <dir>/<stage>/ on the host (a not-configured stage has none). */
export async function exportReports(r: StageResult, dir: string): Promise<void> {
  if (r.status === "not-configured") return;
  const out = resolve(dir, r.stage);
  mkdirSync(out, { recursive: true });
  await r.reports.export(out);
}

export async function runStage(stage: StageName, argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      source: { type: "string", default: "." },
      reports: { type: "string", default: "reports" },
      image: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`Usage: slipway ${stage} [--source DIR] [--reports DIR] [--image REF]\n\n${STAGES[stage]}\n`);
    return 0;
  }
  const source = resolve(values.source!);
  await useEngine({ quiet: true, check: false }); // a running engine is used as is; otherwise `engine up` runs
  let result: { status: string; message: string } | undefined;
  const started = Date.now();
  await connection(async () => {
    const dir = dag.host().directory(source, { exclude: EXCLUDE });
    const r: StageResult = await new Node(values.image)[stage](dir);
    await exportReports(r, values.reports!);
    if (r.status === "failed" && r.output) process.stderr.write(r.output.trim() + "\n");
    result = { status: r.status, message: r.message };
  });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`${result!.message} [${secs}s]\n`);
  return result!.status === "failed" ? 1 : 0;
}
