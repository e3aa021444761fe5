#!/usr/bin/env -S npx tsx
/** The `slipway` command line: client mode, driving the same stage code as `dagger call`. */
import { StepError } from "../platform/steps.ts";
import { BASE_IMAGES } from "../platform/versions.ts";

const usage = `Usage: slipway <command> [options]

Commands:
  pipeline         every stage, lint to production smoke, as a DAG; a run report
  lint             lint with the project's lint script ("lint", "test:lint", "test:code", ...), else ESLint
  typecheck        type-check with the "typecheck" script, else tsc --noEmit
  test             unit tests with the "test:unit" or "test" script; JUnit report exported to --reports
  integration      the "test:integration" script against a Docker engine for Testcontainers
  publish          build the image once, push it tagged by commit SHA, print repository@digest
  release          publish, sbom, scan (vulnerabilities + policy gate, secrets), sign and attest, verify
  verify REF       check the signature and attestations of an image with --public-key
  deploy           verify, then roll out to an environment (--env staging|production) with gates and rollback
  rollback         put an environment's last good version back (--env NAME)
  smoke            HTTP smoke checks against an environment's URL (JUnit report)
  preview          a branch's preview environments: list, down [--branch B] (the pipeline deploys them)
  targets up       start the local deploy targets (a Docker engine and PostgreSQL per environment);
                   \`targets up ssh-host\`: a second host reached over SSH only (ssh://deploy@172.31.250.10);
                   \`targets up kubernetes\`: a one-node cluster (namespaces staging, production)
  targets status   what runs on them; targets down [ssh-host|kubernetes] stops them (data kept)
  keys             make a cosign key pair (--out DIR --password-env VAR)
  trust            which keys and sources each environment accepts, and what it requires (list|add|remove|require)
  engine up        bring up the Dagger engine, its builtin SDKs, the local registry mirror and every image, the
                   supply-chain tool images included, in the foreground (idempotent; what \`dagger call\` needs)
  engine tools     build the missing tool images (cosign, syft, trivy, ...) now; other commands start this in the
                   background once the engine is up, log in /var/cache/slipway/logs/tools.log
  engine status    show what runs, versions, the tool builder's progress and cache sizes
  engine import FILE
                   put the images of a \`docker save\` (or OCI) archive into the local mirror under their
                   names, for a base image or service the mirror lacks (offline: no other registry is reachable)
  engine down      stop what \`engine up\` started (caches stay)

Every command: --source DIR (the project, default the current directory; \`npm run pipeline\` passes
               examples/node-api), --reports DIR (default reports)
Stage options: --image REF (default ${BASE_IMAGES.node}); lint: --lint-script NAME; typecheck: --typecheck-script NAME
               (default: found by name, see docs/stages.md); test: the integration options when its tests need Docker
Integration:   --registry-mirror HOST:PORT (default: the engine's docker.io mirror), --docker-image REF
               (default ${BASE_IMAGES.docker}), --no-cache (run even if the same source passed before)
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, sub] = argv;
  if (cmd !== "engine") (await import("../platform/connection.ts")).watchEngineDuringRun();
  if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") {
    process.stdout.write(usage);
    return cmd ? 0 : 2;
  }
  if (cmd === "engine") {
    const { engineCommand } = await import("../platform/command.ts");
    return engineCommand(sub, argv.slice(2));
  }
  // the modules call their dependencies through dag (dag.sign(), dag.testcontainers()): here, in this process
  (await import("./bindings.ts")).bindModules();
  if (cmd === "pipeline") {
    const { runPipeline } = await import("./pipeline.ts");
    return runPipeline(argv.slice(1));
  }
  if (cmd === "publish") {
    const { runPublish } = await import("./publish.ts");
    return runPublish(argv.slice(1));
  }
  if (cmd === "release" || cmd === "verify" || cmd === "keys") {
    const release = await import("./release.ts");
    return { release: release.runRelease, verify: release.runVerify, keys: release.runKeys }[cmd](argv.slice(1));
  }
  if (cmd === "deploy" || cmd === "rollback" || cmd === "smoke") {
    const d = await import("./deploy.ts");
    return { deploy: d.runDeploy, rollback: d.runRollback, smoke: d.runSmoke }[cmd](argv.slice(1));
  }
  if (cmd === "trust") {
    const { runTrust } = await import("./trust.ts");
    return runTrust(argv.slice(1));
  }
  if (cmd === "preview") {
    const { runPreview } = await import("./previews.ts");
    return runPreview(argv.slice(1));
  }
  if (cmd === "targets") {
    const { targetsCommand } = await import("../platform/targets.ts");
    return targetsCommand(sub, argv[2]);
  }
  if (cmd === "lint" || cmd === "typecheck" || cmd === "test" || cmd === "integration") {
    const { runStage } = await import("./stages.ts");
    return runStage(cmd, argv.slice(1));
  }
  process.stderr.write(`slipway: unknown command "${cmd}"; run \`slipway --help\` for the list\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (err: unknown) => {
    const code = (err as { code?: string }).code;
    if (
      code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ||
      code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" ||
      code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL"
    ) {
      // node's own text suggests `--` quoting; the user needs the command's options
      const what = (err as Error).message.split(". ")[0].replace(/^Unknown option/, "unknown option");
      process.stderr.write(`slipway: ${what} for "${process.argv[2]}": run \`slipway ${process.argv[2]} --help\` for its options\n`);
      process.exit(2);
    }
    const msg = (err instanceof StepError ? err.message : err instanceof Error ? err.message : String(err))
      // the SDK wraps whatever a session callback throws; the user needs the cause
      .replace(/^failed to execute function with automatic provisioning: (?:\w*Error: )*/, "")
      .replace(/\s*\[traceparent:[^\]]*\]/g, "")
      // the SDK's bare message when the engine or its session went away mid-run
      .replace(
        /^API Error$/,
        "the Dagger engine session ended during the run: check `slipway engine status`, then rerun (finished work is cached)",
      );
    // a base image the offline mirror lacks: what it serves and how to bring one in (loaded only then)
    const hint = /not found/.test(msg) ? (await import("../platform/images/import.ts")).missingImageHint(msg) : undefined;
    process.stderr.write(`slipway: ${msg}${hint ? `: ${hint}` : ""}\n`);
    process.exit(1);
  },
);
