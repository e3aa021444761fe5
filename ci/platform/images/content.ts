/**
 * The engine's builtin content store: the SDK images module mode loads (`"sdk": {"source": "typescript"}`), kept as
 * OCI blobs that the engine container mounts at /usr/local/share/dagger/content. The engine finds each SDK by the
 * digest of its image manifest, given in DAGGER_<SDK>_SDK_MANIFEST_DIGEST; nothing else is read there.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { ensureDir, paths } from "../host.ts";

/** The part of an image recipe's config an OCI image config carries. */
export interface ContentImageConfig {
  env?: Record<string, string>;
  entrypoint?: string[];
  cmd?: string[];
  workdir?: string;
}

export const CONTENT_DIR = join(paths.cache, "engine-content");
/** Where the engine reads it (distconsts.EngineContainerBuiltinContentDir). */
export const ENGINE_CONTENT_DIR = "/usr/local/share/dagger/content";
const INDEX = join(CONTENT_DIR, "images.json");

type Index = Record<string, { key: string; digest: string }>;

function readIndex(): Index {
  try {
    return JSON.parse(readFileSync(INDEX, "utf8")) as Index;
  } catch {
    return {};
  }
}

/** The manifest digest of image `name` built from recipe `key`, when its blobs are in the store. */
export function contentDigest(name: string, key?: string): string | undefined {
  const entry = readIndex()[name];
  if (!entry || (key !== undefined && entry.key !== key)) return undefined;
  return existsSync(blobPath(entry.digest)) ? entry.digest : undefined;
}

const blobPath = (digest: string) => join(CONTENT_DIR, "blobs", "sha256", digest.replace(/^sha256:/, ""));

function writeBlob(data: string): { digest: string; size: number } {
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  ensureDir(join(CONTENT_DIR, "blobs", "sha256"));
  writeFileSync(blobPath(digest), data);
  return { digest, size: Buffer.byteLength(data) };
}

/** The root filesystem as one uncompressed layer (sorted, numeric owners), hashed while it is written. */
async function writeLayer(root: string): Promise<{ digest: string; size: number }> {
  const tmp = join(ensureDir(join(CONTENT_DIR, "blobs", "sha256")), `.layer-${process.pid}`);
  const tar = spawn("tar", ["--sort=name", "--numeric-owner", "-C", root, "-cf", "-", "."], { stdio: ["ignore", "pipe", "inherit"] });
  const hash = createHash("sha256");
  let size = 0;
  tar.stdout.on("data", (chunk: Buffer) => {
    hash.update(chunk);
    size += chunk.length;
  });
  const exited = new Promise<number>((res) => tar.on("close", (code) => res(code ?? 1)));
  await pipeline(tar.stdout, createWriteStream(tmp));
  if ((await exited) !== 0) throw new Error(`tar of ${root} failed`);
  const digest = `sha256:${hash.digest("hex")}`;
  renameSync(tmp, blobPath(digest));
  return { digest, size };
}

/** Writes `root` with `config` as a single-platform OCI image into the store; returns the manifest digest. */
export async function writeContentImage(
  name: string,
  key: string,
  root: string,
  config: ContentImageConfig,
  progress: (l: string) => void,
): Promise<string> {
  progress(`${name}: writing the layer into the engine's content store (${CONTENT_DIR})`);
  const layer = await writeLayer(root);
  const imageConfig = writeBlob(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: {
        Env: Object.entries(config.env ?? {}).map(([k, v]) => `${k}=${v}`),
        ...(config.entrypoint ? { Entrypoint: config.entrypoint } : {}),
        ...(config.cmd ? { Cmd: config.cmd } : {}),
        ...(config.workdir ? { WorkingDir: config.workdir } : {}),
      },
      rootfs: { type: "layers", diff_ids: [layer.digest] },
    }),
  );
  const manifest = writeBlob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...imageConfig },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
    }),
  );
  writeFileSync(INDEX, JSON.stringify({ ...readIndex(), [name]: { key, digest: manifest.digest } }, null, 2) + "\n");
  progress(`${name}: manifest ${manifest.digest} (layer ${(layer.size / 1e6).toFixed(0)} MB)`);
  return manifest.digest;
}
