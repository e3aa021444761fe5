/**
 * Preview environments: a pipeline run on a branch (not main) deploys the branch to an environment of its own on
 * staging's target: its own containers (the app named <app>-<branch slug>), its own PostgreSQL with its own data
 * when staging's environment has a DATABASE_URL, its own URL on loopback. It gets staging's plain settings and
 * trust, and none of the environments' secrets (its database's URL is its only one): never production's.
 * Each preview lives for a TTL after its last deploy; the next pipeline run removes the expired ones.
 * `slipway preview list` and `slipway preview down [--branch B]`.
 *
 * The state of a preview: <cache>/targets/previews/<app>/<slug>/preview.json, and database-url beside it (root
 * only). Ports are allocated by slot (0-49), the same slot for the proxy, the replicas and the database.
 */
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { paths, waitFor } from "../platform/host.ts";
import { dockerAt, postgresReady, runPostgres } from "../platform/targets.ts";
import type { Environment } from "./environments.ts";
import { branchOf } from "./git.ts";

export const PREVIEWS_DIR = join(paths.cache, "targets", "previews");
/** Ports of slot i: the proxy on 18200+i, the replicas from 20000+200*i (green +100), the database on 5500+i. */
const SLOTS = 50;
const port = { proxy: 18200, app: 20000, database: 5500 };

export interface Preview {
  branch: string;
  slug: string;
  /** the app's name on the target: <app>-<slug> (its containers, volumes and lock are named after it) */
  app: string;
  /** the project's app (SLIPWAY_APP) */
  project: string;
  environment: string;
  slot: number;
  url: string;
  dockerHost: string;
  /** whether it has a database of its own (staging names a DATABASE_URL secret) */
  database: boolean;
  created: string;
  deployed: string;
  expires: string;
}

/** A branch name as a container name part: lowercase, dashes, at most 24 characters, and a hash (feature/x ≠ feature-x). */
export function previewSlug(branch: string): string {
  const base = branch
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 24)
    .replace(/-+$/, "");
  return `${base || "branch"}-${createHash("sha256").update(branch).digest("hex").slice(0, 6)}`;
}

/** The lowest slot no other preview holds, or an error naming the previews to remove. */
export function freeSlot(taken: number[]): number {
  for (let i = 0; i < SLOTS; i++) if (!taken.includes(i)) return i;
  throw new Error(`all ${SLOTS} preview slots are taken: remove some with \`slipway preview down --branch B\` (slipway preview list)`);
}

const dirOf = (project: string, slug: string) => join(PREVIEWS_DIR, project, slug);

/** Every preview on this machine (all projects), oldest first. */
export function listPreviews(): Preview[] {
  if (!existsSync(PREVIEWS_DIR)) return [];
  const all: Preview[] = [];
  for (const project of readdirSync(PREVIEWS_DIR))
    for (const slug of readdirSync(join(PREVIEWS_DIR, project))) {
      const file = join(PREVIEWS_DIR, project, slug, "preview.json");
      if (existsSync(file)) all.push(JSON.parse(readFileSync(file, "utf8")) as Preview);
    }
  return all.sort((a, b) => a.created.localeCompare(b.created));
}

/** Starts (or finds running) the preview's PostgreSQL, on the target's Docker engine; its URL in database-url. */
async function startDatabase(p: Preview, dir: string): Promise<string> {
  const urlFile = join(dir, "database-url");
  const name = `${p.app}-postgres`;
  const dbPort = port.database + p.slot;
  const d = dockerAt(p.dockerHost);
  const running = (await d`docker inspect -f {{.State.Running}} ${name}`).stdout.trim();
  if (running === "false") await d`docker start ${name}`;
  if (!running || !existsSync(urlFile)) {
    await d`docker rm -f ${name}`;
    await d`docker volume rm -f ${name}`;
    const failed = await runPostgres(p.dockerHost, name, dbPort, urlFile, [`slipway.app=${p.app}`, `slipway.preview=${p.branch}`]);
    if (failed)
      throw new Error(`preview ${p.branch}: its database did not start (${failed}): is staging's target up (npx slipway targets up)?`);
  }
  if (!(await waitFor(() => postgresReady(p.dockerHost, name, dbPort), 60)))
    throw new Error(`preview ${p.branch}: its database was not ready within 60s: DOCKER_HOST=${p.dockerHost} docker logs ${name}`);
  return urlFile;
}

/**
 * The branch's preview as an environment to deploy to, made from staging's (its target, strategy, gates, plain
 * variables and smoke checks; one replica; none of its secrets): the state written, the slot allocated and the
 * database started on first use; the TTL counted again from now.
 */
export async function ensurePreview(
  staging: Environment,
  branch: string,
  ttlSeconds: number,
): Promise<{ env: Environment; preview: Preview }> {
  if (staging.target !== "docker-host")
    throw new Error(
      `previews deploy to staging's Docker host, and staging's target is ${staging.target}: set previews: false in slipway.config.ts`,
    );
  const project = staging.settings.app;
  const slug = previewSlug(branch);
  const dir = dirOf(project, slug);
  const file = join(dir, "preview.json");
  const now = new Date();
  const known = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Preview) : undefined;
  const slot = known?.slot ?? freeSlot(listPreviews().map((p) => p.slot));
  const preview: Preview = {
    branch,
    slug,
    app: `${project}-${slug}`,
    project,
    environment: `preview-${slug}`,
    slot,
    url: `http://127.0.0.1:${port.proxy + slot}`,
    dockerHost: staging.dockerHost,
    database: "DATABASE_URL" in staging.secrets,
    created: known?.created ?? now.toISOString(),
    deployed: now.toISOString(),
    expires: new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
  };
  mkdirSync(dir, { recursive: true });
  chmodSync(PREVIEWS_DIR, 0o700); // the databases' URLs: root's only
  writeFileSync(file, JSON.stringify(preview, null, 2) + "\n");
  const secrets: Record<string, string> = preview.database ? { DATABASE_URL: `file:${await startDatabase(preview, dir)}` } : {};
  const env: Environment = {
    ...staging,
    name: preview.environment,
    trustAs: staging.name,
    url: preview.url,
    settings: {
      ...staging.settings,
      app: preview.app,
      environment: preview.environment,
      replicas: 1,
      listen: `127.0.0.1:${port.proxy + slot}`,
      appPort: port.app + 200 * slot,
      secretNames: Object.keys(secrets),
    },
    secrets,
  };
  return { env, preview };
}

/** Removes a preview: its containers (replicas, proxy, lock, database), its volumes (the database's data) and its state. */
export async function removePreview(p: Preview): Promise<string> {
  const d = dockerAt(p.dockerHost);
  if ((await d`docker version --format {{.Server.Version}}`).exitCode !== 0)
    throw new Error(`preview ${p.branch}: its target ${p.dockerHost} does not answer: start it (npx slipway targets up), then rerun`);
  const ids = (await d`docker ps -aq --filter ${`label=slipway.app=${p.app}`}`).stdout.split("\n").filter(Boolean);
  // its lock, should a deploy have died holding it (the database is labelled with the app, as the replicas are)
  await d`docker rm -f ${[...ids, `${p.app}-deploy-lock`]}`;
  await d`docker volume rm -f ${[`${p.app}-proxy`, `${p.app}-postgres`]}`;
  const left = (await d`docker ps -aq --filter ${`label=slipway.app=${p.app}`}`).stdout.trim();
  if (left)
    throw new Error(`preview ${p.branch}: containers ${left.split("\n").join(", ")} are still on ${p.dockerHost}: remove them and rerun`);
  rmSync(dirOf(p.project, p.slug), { recursive: true, force: true });
  return `removed the preview of ${p.branch} (${p.url}, ${p.app}: ${ids.length} container(s), its data)`;
}

/** Removes every preview whose TTL ran out; a line for each. */
export async function removeExpired(now = Date.now()): Promise<string[]> {
  const lines: string[] = [];
  for (const p of listPreviews()) {
    if (Date.parse(p.expires) > now) continue;
    // a target that does not answer keeps its expired previews for a later run
    lines.push(
      await removePreview(p).then(
        (l) => `${l}: expired ${p.expires}`,
        (err: Error) => `${err.message} (expired ${p.expires})`,
      ),
    );
  }
  return lines;
}

export const PREVIEW_HELP = `Usage: slipway preview list
       slipway preview down [--branch B] [--source DIR]

A pipeline run on a branch other than main deploys it to its own preview on staging's target (its containers,
its database, its URL), and the next run after its TTL removes it (previews.ttl in slipway.config.ts, --preview-ttl).
  list    every preview on this machine: branch, URL, app, when it expires
  down    removes a preview and its data: the branch B's, else the checked-out branch's of --source (default .)
`;

export async function runPreview(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: { branch: { type: "string" }, source: { type: "string", default: "." }, help: { type: "boolean", short: "h" } },
  });
  if (values.help || !sub) return (void process.stdout.write(PREVIEW_HELP), sub ? 0 : 2);
  if (sub === "list") {
    const all = listPreviews();
    if (!all.length) process.stdout.write("no previews\n");
    for (const p of all) process.stdout.write(`${p.branch}\t${p.url}\t${p.app}\texpires ${p.expires}\n`);
    return 0;
  }
  if (sub === "down") {
    const branch = values.branch ?? (await branchOf(values.source!));
    if (!branch) throw new Error(`--source ${values.source} is on no branch: name the preview with --branch B (slipway preview list)`);
    const found = listPreviews().filter((p) => p.branch === branch);
    if (!found.length) throw new Error(`no preview of branch ${branch}: slipway preview list shows them`);
    for (const p of found) process.stdout.write(`${await removePreview(p)}\n`);
    return 0;
  }
  process.stderr.write(`slipway preview: unknown subcommand "${sub}"; use list or down\n`);
  return 2;
}
