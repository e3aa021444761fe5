/**
 * `slipway engine import FILE`: images an air-gapped user carries in (a `docker save` archive, or an OCI archive
 * that `docker load` reads) put into the local mirror under their upstream names, so that a Dockerfile's FROM, a
 * stage's image or a Testcontainers pull finds them as it would online. And the other half: what the mirror serves,
 * for the error of a build or pull that names an image it lacks.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { $ } from "zx";
import { dockerStep } from "../docker.ts";
import { EXTERNAL_MIRROR } from "../engine.ts";
import { ensureDir, paths } from "../host.ts";
import { REGISTRY, registryStep } from "../registry.ts";
import { runSteps } from "../steps.ts";
import { MIRRORED_REGISTRIES } from "../versions.ts";
import { mirrorPath, pushToMirror, readPins, readRecord, updateRecord } from "./build.ts";

/** What was imported, by mirror path: the digest served, the archive it came from and when. */
export const IMPORTED = join(paths.images, "imported.json");

export interface Imported {
  digest: string;
  from: string;
  at: string;
}

export const readImported = (): Record<string, Imported> => readRecord<Imported>(IMPORTED);

/** The image references `docker load` printed ("Loaded image: node:12-alpine"); an untagged image is an error. */
export function loadedRefs(output: string, file: string): string[] {
  const untagged = /^Loaded image ID: (\S+)/m.exec(output);
  if (untagged)
    throw new Error(
      `${file} holds an image with no name (${untagged[1].slice(0, 19)}): save it by name, e.g. \`docker save -o ${file} node:12-alpine\``,
    );
  return [...output.matchAll(/^Loaded image: (\S+)$/gm)].map((m) => m[1]);
}

/**
 * Why the mirror cannot take ref, or undefined when it can: a registry the engine does not send to the mirror, a
 * digest reference, or a name Slipway builds and pins itself (importing over it would make `engine up` refuse it).
 */
export function importRefusal(ref: string, pinned: Record<string, string>): string | undefined {
  if (ref.includes("@")) return `${ref} is a digest reference: save the image by tag`;
  const first = ref.split("/")[0];
  const registry = ref.includes("/") && /[.:]/.test(first) && first !== "localhost" ? first : "docker.io";
  if (!MIRRORED_REGISTRIES.includes(registry))
    return `${ref} is on ${registry}, which the engine does not resolve through the mirror (only ${MIRRORED_REGISTRIES.join(", ")}): tag it under one of those before \`docker save\``;
  if (pinned[mirrorPath(ref)])
    return `${ref} is an image Slipway builds and pins itself (${join(paths.images, "digests.json")}): import it under another tag`;
  return undefined;
}

export async function importImages(file: string | undefined): Promise<number> {
  if (!file) {
    process.stderr.write("slipway engine import: name the archive: slipway engine import FILE (made by `docker save -o FILE IMAGE...`)\n");
    return 2;
  }
  const archive = resolve(file);
  if (!existsSync(archive))
    throw new Error(`${archive} does not exist: make it where the image can be pulled, with \`docker save -o FILE IMAGE...\``);
  if (EXTERNAL_MIRROR)
    throw new Error(
      `SLIPWAY_REGISTRY_MIRROR is set (${EXTERNAL_MIRROR}): the engine pulls through that mirror, not the local one; push the images there`,
    );
  await runSteps([dockerStep, registryStep], { quiet: true });
  process.stderr.write(`loading ${archive}\n`);
  const load = await $`docker load -i ${archive}`.nothrow();
  if (load.exitCode !== 0)
    throw new Error(
      `docker load ${archive} failed: ${load.stderr.trim().split("\n").pop()}: pass an archive made by \`docker save\` (or an OCI image archive)`,
    );
  const refs = loadedRefs(load.stdout, archive);
  if (!refs.length) throw new Error(`docker load ${archive} named no image: save the images by name with \`docker save -o FILE IMAGE...\``);
  const pinned = readPins();
  const refused = refs.map((ref) => importRefusal(ref, pinned)).filter(Boolean);
  if (refused.length) {
    await $`docker rmi ${refs}`.nothrow();
    throw new Error(`nothing imported: ${refused.join("; ")}`);
  }
  const pushed = await pushToMirror(refs, "engine import", (line) => process.stderr.write(`  ${line}\n`));
  const at = new Date().toISOString();
  ensureDir(paths.images);
  updateRecord(IMPORTED, Object.fromEntries(Object.entries(pushed).map(([path, digest]) => [path, { digest, from: archive, at }])));
  // the mirror serves them from now on; the host's copies would only fill the disk
  await $`docker rmi ${refs.flatMap((ref) => [ref, `${REGISTRY}/${mirrorPath(ref)}`])}`.nothrow();
  for (const ref of refs) process.stdout.write(`imported ${ref} (${pushed[mirrorPath(ref)]})\n`);
  return 0;
}

/**
 * The images the mirror serves to builds and pulls, as pipeline code names them ("node:22", "anchore/syft:v1.50.0"):
 * those Slipway built and pinned and those imported (the registry also holds the projects' own published images).
 */
export function mirrorServes(): string[] {
  return [...Object.keys(readPins()), ...Object.keys(readImported())].map((path) => path.replace(/^library\//, "")).sort();
}

/**
 * For a failure that names an image the mirror lacks ("failed to resolve source metadata for docker.io/library/x:1:
 * ... not found", or a pull's "not found"): one more sentence with what it serves and the import command.
 */
export function missingImageHint(message: string): string | undefined {
  const m =
    /(?:resolve source metadata for|pull access denied for|failed to resolve image) ((?:docker\.io|ghcr\.io|gcr\.io)\/\S+?)[:,]?\s.*not found/s.exec(
      message,
    );
  if (!m || /docker\/dockerfile/.test(m[1])) return undefined;
  const name = m[1].replace(/^docker\.io\/(library\/)?/, "");
  return (
    `no registry but the local mirror is reachable, and it does not serve ${name}; it serves ${mirrorServes().join(", ") || "nothing yet"}: ` +
    `save it where it can be pulled (\`docker save -o image.tar ${name}\`), then \`slipway engine import image.tar\``
  );
}
