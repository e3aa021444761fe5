/** `slipway lint|typecheck|test|integration`: the code stages in client mode, with reports exported to the host. */
import { connection, dag, type Directory, type Service } from "@dagger.io/dagger";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { EXCLUDE, Node, type StageResult } from "../../modules/node/src/index.ts";
import { useEngine } from "../platform/connection.ts";

export const STAGES = {
  lint: 'lint with the project\'s "lint" script, else ESLint when configured',
  typecheck: 'type-check with the "typecheck" script, else tsc --noEmit',
  test: 'unit tests with the "test" script; JUnit report in --reports',
  integration: 'the "test:integration" script with a Docker engine for Testcontainers; JUnit and container logs',
} as const;
export type StageName = keyof typeof STAGES;

export interface StageOptions {
  image?: string;
  /** host:port of a docker.io mirror reachable from this host ("" for none); default: the one `engine up` runs. */
  registryMirror?: string;
  dockerImage?: string;
  noCache?: boolean;
  /** a package directory of a workspace (lint, typecheck, test) */
  workspace?: string;
  /** the project's script for lint / typecheck (--lint-script, --typecheck-script); default: found by name */
  lintScript?: string;
  typecheckScript?: string;
}

/** The docker.io mirror the integration stage's Docker engine pulls through, tunnelled from this host. */
export function mirrorService(hostPort: string | undefined): Service | undefined {
  const value = hostPort ?? process.env.SLIPWAY_DOCKER_MIRROR;
  if (!value) return undefined;
  const m = /^([^:/]+):(\d+)$/.exec(value);
  if (!m) throw new Error(`--registry-mirror "${value}" is not host:port: pass e.g. --registry-mirror 127.0.0.1:5000, or "" for none`);
  return hostTunnel(m[1], Number(m[2]));
}

/** A service that forwards to host:port as this host reaches it (the registry, the mirror on loopback). */
export function hostTunnel(host: string, port: number): Service {
  return dag.host().service([{ frontend: port, backend: port }], { host });
}

/** One stage on the Node class, as module mode runs it. */
export function runNodeStage(stage: StageName, dir: Directory, opts: StageOptions): Promise<StageResult> {
  const node = new Node(opts.image);
  if (stage === "integration") return node.integration(dir, mirrorService(opts.registryMirror), opts.dockerImage, opts.noCache ?? false);
  if (stage === "test") return node.test(dir, opts.workspace ?? "", mirrorService(opts.registryMirror), opts.dockerImage);
  if (stage === "lint") return node.lint(dir, opts.workspace ?? "", opts.lintScript ?? "");
  return node.typecheck(dir, opts.workspace ?? "", opts.typecheckScript ?? "");
}

/** Writes a stage's reports to <dir>/<name, default the stage>/ on the host (a not-configured stage has none). */
export async function exportReports(r: StageResult, dir: string, name = r.stage): Promise<void> {
  if (r.status === "not-configured") return;
  const out = resolve(dir, name);
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
      "registry-mirror": { type: "string" },
      "docker-image": { type: "string" },
      "no-cache": { type: "boolean", default: false },
      "lint-script": { type: "string" },
      "typecheck-script": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    const extra =
      stage === "integration"
        ? " [--registry-mirror HOST:PORT] [--docker-image REF] [--no-cache]"
        : stage === "test"
          ? " [--registry-mirror HOST:PORT] [--docker-image REF] (used when the tests need Docker)"
          : ` [--${stage}-script NAME]`;
    process.stdout.write(`Usage: slipway ${stage} [--source DIR] [--reports DIR] [--image REF]${extra}\n\n${STAGES[stage]}\n`);
    return 0;
  }
  const source = resolve(values.source!);
  await useEngine({ quiet: true, check: false }); // a running engine is used as is; otherwise `engine up` runs
  let result: { status: string; message: string; cached: boolean } | undefined;
  const started = Date.now();
  await connection(async () => {
    const dir = dag.host().directory(source, { exclude: EXCLUDE });
    const r = await runNodeStage(stage, dir, {
      image: values.image,
      registryMirror: values["registry-mirror"],
      dockerImage: values["docker-image"],
      noCache: values["no-cache"],
      lintScript: values["lint-script"],
      typecheckScript: values["typecheck-script"],
    });
    await exportReports(r, values.reports!);
    if (r.status === "failed" && r.output) process.stderr.write(r.output.trim() + "\n");
    result = { status: r.status, message: r.message, cached: r.cached };
  });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  // a result the engine served from its cache says so: the same source passed (or failed) this way before
  process.stdout.write(`${result!.message} [${result!.cached ? "cached, " : ""}${secs}s]\n`);
  return result!.status === "failed" ? 1 : 0;
}
