/** `slipway publish`: build the image once from the source's Dockerfile, push it tagged by commit SHA, print the digest. */
import { connection, dag, type Secret } from "@dagger.io/dagger";
import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type Commit, Image, type Published } from "../../modules/image/src/index.ts";
import { EXCLUDE } from "../../modules/node/src/index.ts";
import { useEngine } from "../platform/connection.ts";
import { localRegistryCredentials, onLocalRegistry, REGISTRY_CREDENTIALS, REGISTRY_PRIVATE } from "../platform/registry.ts";
import { waitForTools } from "../platform/tools.ts";
import { commitOf } from "./git.ts";
import { NO_REPOSITORY } from "../src/stages.ts";
import { hostTunnel } from "./stages.ts";

export const PUBLISH_HELP = `Usage: slipway publish [--source DIR] [--repository REGISTRY/PATH] [--dockerfile PATH]
                       [--username USER --password-env VAR] [--allow-no-commit]

Builds the image from the source's Dockerfile with OCI labels from its commit, pushes it tagged with the full and
short commit SHA ("-dirty" when the source has uncommitted changes) and prints repository@sha256:digest.
Default repository: <the local registry>/<source directory name>.
`;

/** The repository an image goes to when none is given: the local registry `engine up` runs. */
export function defaultRepository(source: string): string {
  const repository = localRepository(source);
  if (!repository) throw new Error(NO_REPOSITORY);
  return repository;
}

/** <the local registry>/<source directory name>, or nothing when no local registry is configured. */
export function localRepository(source: string): string | undefined {
  const registry = process.env.SLIPWAY_REGISTRY;
  return registry ? `${registry}/${basename(source).toLowerCase()}` : undefined;
}

/** A password given by the name of the environment variable that holds it (--password-env), as a Dagger Secret. */
export function secretFromEnv(name: string | undefined, option: string): Secret {
  if (!name) throw new Error(`${option} VAR is required: the environment variable that holds the password`);
  const value = process.env[name];
  if (!value) throw new Error(`${option} ${name}: that environment variable is not set or empty: export it`);
  return dag.setSecret(`env-${name}`, value);
}

/**
 * Credentials for pushes to repository: --username with --password-env when given; for the local registry, the
 * credentials `engine up` wrote (root only); none otherwise (a registry that takes anonymous pushes).
 */
export function pushCredentials(
  repository: string,
  username?: string,
  passwordEnv?: string,
): { username: string; password: Secret } | undefined {
  if (passwordEnv) return { username: username ?? "", password: secretFromEnv(passwordEnv, "--password-env") };
  if (!onLocalRegistry(repository) || !existsSync(REGISTRY_PRIVATE)) return undefined;
  const local = localRegistryCredentials();
  if (!local) {
    throw new Error(
      `pushing to ${repository} needs the local registry's credentials (${REGISTRY_CREDENTIALS}), which only root reads: run as root, or pass --username USER --password-env VAR`,
    );
  }
  return { username: local.username, password: dag.setSecret("local-registry-password", local.password) };
}

export async function publishSource(
  source: string,
  opts: { repository?: string; dockerfile?: string; username?: string; passwordEnv?: string; allowNoCommit?: boolean; commit?: Commit },
): Promise<Published> {
  const commit = opts.commit ?? (await commitOf(source));
  const repository = opts.repository ?? defaultRepository(source);
  const credentials = pushCredentials(repository, opts.username, opts.passwordEnv);
  const dir = dag.host().directory(source, { exclude: EXCLUDE });
  // a registry on this host's loopback, tunnelled for the container that pushes
  const loopback = /^(localhost|127\.0\.0\.1)(?::(\d+))?\//.exec(repository);
  const registry = loopback ? hostTunnel(loopback[1], Number(loopback[2] ?? 80)) : undefined;
  let image = new Image(opts.dockerfile);
  if (commit) image = image.withCommit(commit.revision, commit.created, commit.source, commit.dirty);
  if (credentials) image = image.withPushCredentials(credentials.username, credentials.password);
  return image.publish(dir, repository, opts.allowNoCommit ?? false, registry);
}

export async function runPublish(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      source: { type: "string", default: "." },
      repository: { type: "string" },
      dockerfile: { type: "string" },
      username: { type: "string" },
      "password-env": { type: "string" },
      "allow-no-commit": { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(PUBLISH_HELP);
    return 0;
  }
  const source = resolve(values.source!);
  await useEngine({ quiet: true, check: false });
  await waitForTools(["regctl"]); // the reproducible image is written by regctl
  const started = Date.now();
  let published: Published | undefined;
  await connection(async () => {
    published = await publishSource(source, {
      repository: values.repository,
      dockerfile: values.dockerfile,
      username: values.username,
      passwordEnv: values["password-env"],
      allowNoCommit: values["allow-no-commit"],
    });
  });
  const p = published!;
  process.stdout.write(
    `publish: ${p.ref} (tags ${p.tags.map((t) => t.slice(t.lastIndexOf(":") + 1)).join(", ")}) [${((Date.now() - started) / 1000).toFixed(1)}s]\n`,
  );
  return 0;
}
