/**
 * Assembles container images with no registry: a Debian root filesystem from apt (mmdebstrap), files added on
 * the host, `docker import` with the image config, then a push into the local mirror under the upstream name.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { aptInstall, ensureDir, paths } from "../host.ts";
import { REGISTRY, registryAuthorization } from "../registry.ts";
import { type Step, StepError } from "../steps.ts";
import { DEBIAN_SUITE, MIRRORED_REGISTRIES } from "../versions.ts";
import { contentDigest, writeContentImage } from "./content.ts";

export interface ImageRecipe {
  /** Upstream references this image answers to, e.g. "node:22" (docker.io/library/node:22). */
  refs: string[];
  /** Debian packages on top of the minbase variant. */
  packages: string[];
  /** Anything that changes the result beyond packages and config (versions, contents of added files). */
  inputs?: Record<string, string>;
  /** Bump when `setup` changes: the recipe key covers data, not code (whose text differs between loaders). */
  revision: number;
  /** Adds files into the root filesystem. */
  setup?: (root: string, progress: (line: string) => void) => Promise<void>;
  config: {
    env?: Record<string, string>;
    entrypoint?: string[];
    cmd?: string[];
    workdir?: string;
    user?: string;
    expose?: string[];
    volumes?: string[];
  };
  /** Pushed into the local mirror (the engine image is only loaded into Docker). */
  mirror: boolean;
  /**
   * Written as an OCI image into the engine's builtin content store instead (the SDK images module mode loads);
   * `scratch`: no Debian root, only what `setup` adds.
   */
  content?: { scratch?: boolean };
}

const DEBIAN_MIRROR = process.env.SLIPWAY_DEBIAN_MIRROR ?? "http://deb.debian.org/debian";
const DEBIAN_SECURITY = process.env.SLIPWAY_DEBIAN_SECURITY ?? "http://deb.debian.org/debian-security";
/** Bump to rebuild every image after a change to this builder. */
const BUILDER_REVISION = "1";

export function recipeKey(recipe: ImageRecipe): string {
  const { setup: _code, ...data } = recipe;
  return createHash("sha256").update(JSON.stringify({ BUILDER_REVISION, DEBIAN_SUITE, data })).digest("hex").slice(0, 16);
}

/**
 * Upstream names as the mirror stores them: "node:22" -> "library/node:22", "ghcr.io/google/osv-scanner:v2" ->
 * "google/osv-scanner:v2" (the engine maps each mirrored registry onto the mirror's root).
 */
export function mirrorPath(ref: string): string {
  const name = ref.replace(new RegExp(`^(?:${MIRRORED_REGISTRIES.map((r) => r.replace(/\./g, "\\.")).join("|")})/`), "");
  const [repo] = name.split(":");
  return repo.includes("/") ? name : `library/${name}`;
}

function stampFile(recipe: ImageRecipe): string {
  return join(ensureDir(paths.images), `${recipe.refs[0].replace(/[/:]/g, "_")}-${recipeKey(recipe)}.done`);
}

/** The manifest digest the mirror serves for ref, or undefined when it serves none. */
async function mirrorDigest(ref: string): Promise<string | undefined> {
  const [repo, tag] = mirrorPath(ref).split(":");
  try {
    const r = await fetch(`http://${REGISTRY}/v2/${repo}/manifests/${tag}`, {
      method: "HEAD",
      headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json" },
    });
    return r.status === 200 ? (r.headers.get("docker-content-digest") ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pin table: every mirrored image by the manifest digest this machine built and pushed ("library/node:22" ->
 * "sha256:..."). The images are assembled here (Debian packages, the Go proxy), so the digests are this machine's;
 * root owns the file. `engine up` refuses a mirror whose tag points anywhere else.
 */
export const PINS = join(paths.images, "digests.json");

/** A JSON record keyed by mirror path (the pins, the imports); empty when the file is missing or unreadable. */
export function readRecord<T>(file: string): Record<string, T> {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, T>;
  } catch {
    return {};
  }
}

/** Merges update into such a record, keys sorted, written atomically (a reader never sees half a file). */
export function updateRecord<T>(file: string, update: Record<string, T>): void {
  const next = { ...readRecord<T>(file), ...update };
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify(next, Object.keys(next).sort(), 2) + "\n", { mode: 0o644 });
  renameSync(tmp, file);
}

export const readPins = (): Record<string, string> => readRecord<string>(PINS);
const writePins = (update: Record<string, string>): void => updateRecord(PINS, update);

/**
 * True when the image is built from this exact recipe and present where it should be. A mirrored tag that points
 * at another digest than the one pinned (someone re-pushed it) is refused: an error naming the image and the fix.
 */
export async function imageReady(recipe: ImageRecipe): Promise<boolean> {
  if (!existsSync(stampFile(recipe))) return false;
  if (recipe.content) return contentDigest(recipe.refs[0], recipeKey(recipe)) !== undefined;
  if (recipe.mirror) {
    const pins = readPins();
    const unpinned: Record<string, string> = {};
    for (const ref of recipe.refs) {
      const digest = await mirrorDigest(ref);
      if (!digest) return false;
      const pinned = pins[mirrorPath(ref)];
      if (pinned === undefined)
        unpinned[mirrorPath(ref)] = digest; // built before the table existed: pinned now
      else if (pinned !== digest) {
        throw new StepError(
          `image ${recipe.refs[0]}`,
          `${REGISTRY}/${mirrorPath(ref)} is ${digest}, not the ${pinned} this machine built (pinned in ${PINS}): it was pushed over`,
          `rebuild it from source: rm ${stampFile(recipe)} && npx slipway engine up`,
        );
      }
    }
    if (Object.keys(unpinned).length) writePins(unpinned);
    return true;
  }
  const label = await $`docker image inspect --format ${'{{index .Config.Labels "org.slipway.recipe"}}'} ${recipe.refs[0]}`.nothrow();
  return label.stdout.trim() === recipeKey(recipe);
}

/** A step that builds the recipe's image unless it is ready ("image REF": the targets' images, built on first need). */
export function imageStep(recipe: ImageRecipe): Step {
  return {
    title: `image ${recipe.refs[0]}`,
    async done() {
      return (await imageReady(recipe)) ? (recipe.mirror ? "in the mirror" : "in Docker") : undefined;
    },
    async run(progress) {
      await buildImage(recipe, progress);
      return "built";
    },
  };
}

export async function buildImage(recipe: ImageRecipe, progress: (l: string) => void): Promise<void> {
  const root = mkdtempSync(join(ensureDir(join(paths.cache, "tmp")), "rootfs-"));
  try {
    if (!recipe.content?.scratch) await debianRoot(recipe, root, progress);
    await recipe.setup?.(root, progress);
    if (!recipe.content?.scratch) writeFileSync(join(root, "etc/slipway-image"), `${recipe.refs[0]} ${recipeKey(recipe)}\n`);
    if (recipe.content) await writeContentImage(recipe.refs[0], recipeKey(recipe), root, recipe.config, progress);
    else await intoDocker(recipe, root, progress);
    writeFileSync(stampFile(recipe), new Date().toISOString() + "\n");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** A minimal Debian root filesystem with the recipe's packages, from apt (mmdebstrap). */
async function debianRoot(recipe: ImageRecipe, root: string, progress: (l: string) => void): Promise<void> {
  const step = `image ${recipe.refs[0]}`;
  await aptInstall(step, ["mmdebstrap"], progress);
  progress(`${recipe.refs[0]}: Debian ${DEBIAN_SUITE} root with ${recipe.packages.length} packages`);
  const include = recipe.packages.length ? [`--include=${recipe.packages.join(",")}`] : [];
  const args = [
    "--quiet",
    "--mode=root",
    "--format=directory",
    "--variant=minbase",
    ...include,
    ...["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*"].map((p) => `--dpkgopt=path-exclude=${p}`),
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--customize-hook=rm -rf $1/var/lib/apt/lists/* $1/var/cache/apt/*.bin",
    DEBIAN_SUITE,
    root,
    `deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE} main`,
    `deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE}-updates main`,
    `deb ${DEBIAN_SECURITY} ${DEBIAN_SUITE}-security main`,
  ];
  const r = await $`mmdebstrap ${args} </dev/null`.nothrow(); // mmdebstrap reads sources from a non-tty stdin
  if (r.exitCode !== 0) {
    const last = r.stderr.trim().split("\n").slice(-2).join(" | ");
    throw new StepError(step, `mmdebstrap failed: ${last}`, `check that apt reaches ${DEBIAN_MIRROR} (or set SLIPWAY_DEBIAN_MIRROR)`);
  }
}

/** `docker import` with the recipe's config, tagged by every ref, and pushed into the mirror when it is mirrored. */
async function intoDocker(recipe: ImageRecipe, root: string, progress: (l: string) => void): Promise<void> {
  const step = `image ${recipe.refs[0]}`;
  const c = recipe.config;
  const changes = [
    `LABEL org.slipway.recipe=${recipeKey(recipe)}`,
    ...Object.entries(c.env ?? {}).map(([k, v]) => `ENV ${k}=${v}`),
    ...(c.entrypoint ? [`ENTRYPOINT ${JSON.stringify(c.entrypoint)}`] : []),
    ...(c.cmd ? [`CMD ${JSON.stringify(c.cmd)}`] : []),
    ...(c.workdir ? [`WORKDIR ${c.workdir}`] : []),
    ...(c.user ? [`USER ${c.user}`] : []),
    ...(c.expose ?? []).map((p) => `EXPOSE ${p}`),
    ...(c.volumes ?? []).map((v) => `VOLUME ${v}`),
  ].flatMap((ch) => ["--change", ch]);
  progress(`${recipe.refs[0]}: docker import`);
  const imp = await $`tar --numeric-owner -C ${root} -cf - . | docker import ${changes} - ${recipe.refs[0]}`.nothrow();
  if (imp.exitCode !== 0) throw new StepError(step, `docker import failed: ${imp.stderr.trim()}`, "check `docker info`");
  for (const ref of recipe.refs.slice(1)) await $`docker tag ${recipe.refs[0]} ${ref}`;
  if (!recipe.mirror) return;
  writePins(await pushToMirror(recipe.refs, step, progress));
  // the mirror serves it from now on: the host's Docker copies would only fill the disk, one more per rebuild
  const tags = recipe.refs.flatMap((ref) => [ref, `${REGISTRY}/${mirrorPath(ref)}`]);
  await $`docker rmi ${tags}`.nothrow();
}

/**
 * Pushes images the host's Docker holds under their upstream names into the mirror (with the mirror's credentials,
 * in a Docker config of this push alone, removed after it): the manifest digest each is served as, by mirror path.
 */
export async function pushToMirror(refs: string[], step: string, progress: (l: string) => void): Promise<Record<string, string>> {
  const config = mkdtempSync(join(ensureDir(join(paths.cache, "tmp")), "docker-config-"));
  try {
    const auth = registryAuthorization().replace(/^Basic /, "");
    writeFileSync(join(config, "config.json"), JSON.stringify({ auths: { [REGISTRY]: { auth } } }), { mode: 0o600 });
    const pushed: Record<string, string> = {};
    for (const ref of refs) {
      const target = `${REGISTRY}/${mirrorPath(ref)}`;
      progress(`push ${target}`);
      await $`docker tag ${ref} ${target}`;
      const push = await $`docker --config ${config} push ${target}`.nothrow();
      if (push.exitCode !== 0)
        throw new StepError(step, `push to ${target} failed: ${push.stderr.trim()}`, "check the local registry step");
      const digest = await mirrorDigest(ref);
      if (!digest) throw new StepError(step, `${target} is not served after its push`, "check the local registry step");
      pushed[mirrorPath(ref)] = digest;
    }
    return pushed;
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
}
