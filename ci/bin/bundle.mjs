/**
 * The slipway CLI compiled ahead of time: esbuild bundles ci/cli/cli.ts (and what it imports, node_modules too),
 * so a start loads a few prebuilt files instead of compiling TypeScript and resolving thousands of modules.
 * ci/bin/slipway.js uses the bundle while it is fresh and rebuilds it (in about a second) otherwise. It lives in
 * node_modules/.cache/slipway/: ignored by git and the Docker build context, and outside ci/, the root module's
 * source, which module mode loads.
 *
 * Fresh means: built from this checkout (its absolute path is recorded: the bundle points at files beside the
 * sources), and every file it was built from (esbuild's metafile inputs, plus tsconfig.json, this script and
 * npm's node_modules/.package-lock.json, which every install that changes node_modules rewrites) still has the
 * modification time and size it had, and none was modified while the build ran. An edited, checked out,
 * touched or reinstalled input therefore makes the next start rebuild. (Not the change time: a container's
 * files get new ones when its image is unpacked, which would rebuild the image's bundle at every start.)
 *
 * Three things differ from running the sources through tsx:
 * - the SDK's module-mode `entrypoint` is a stub: the CLI never runs it, and it imports the introspector, which
 *   imports `typescript` (half a second to load) and uses it at its top level. Nothing else may import `typescript`.
 * - `import.meta.url` / `.dirname` / `.filename` (and a CommonJS file's `__dirname` / `__filename`) become the
 *   original file's own values, so code that reads files beside itself keeps reading them in the source tree.
 * - a `createRequire` banner gives the ESM output a `require` for the CommonJS dependencies.
 *
 * `node ci/bin/bundle.mjs` builds it now; SLIPWAY_BUNDLE=off runs the sources through tsx instead.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, accessSync, constants } from "node:fs";
import { dirname, extname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The checkout this script belongs to. */
export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
/** Manifest format; a change makes older bundles stale. */
export const FORMAT = 1;
/** Non-current builds are removed after this long (a process started from one may still import its chunks). */
const KEEP_OLD_MS = 60 * 60 * 1000;

export const buildDir = (root = ROOT) => join(root, "node_modules/.cache/slipway");
const manifestPath = (root = ROOT) => join(buildDir(root), "manifest.json");
/** Inputs of every build besides what esbuild reads: how it compiles and how it is built. */
const EXTRA_INPUTS = ["tsconfig.json", "ci/bin/bundle.mjs", "node_modules/.package-lock.json"];

/**
 * @typedef {[mtimeMs: number, size: number]} Stamp
 * @typedef {{ format: number, root: string, entry: string, inputs: Record<string, Stamp>, rebuild?: string }} Manifest
 * entry: the bundle's entry file; inputs: the files it was built from (relative to root) and their stamps as the
 * build read them; rebuild: why the next start must build again although the inputs match (one changed mid-build)
 */

/**
 * Why a manifest's bundle cannot be used for `root` (undefined when it can). Pure but for `stat`, which returns
 * a path's stamp [mtimeMs, size], or undefined when it is missing.
 * @param {Manifest | undefined} m
 * @param {string} root
 * @param {(path: string) => Stamp | undefined} stat
 * @returns {string | undefined}
 */
export function staleReason(m, root, stat) {
  if (!m) return "no bundle";
  if (m.format !== FORMAT) return "built by another version of the build script";
  if (m.root !== root) return `built in another checkout (${m.root})`;
  if (m.rebuild) return m.rebuild;
  if (!stat(join(root, m.entry))) return "the bundle's files are missing";
  const paths = Object.keys(m.inputs ?? {});
  if (paths.length === 0) return "no inputs recorded";
  for (const p of paths) {
    const was = m.inputs[p];
    const now = stat(join(root, p));
    if (!now) return `${p} is gone`;
    if (now[0] !== was[0] || now[1] !== was[1]) return `${p} changed`;
  }
  return undefined;
}

/** @returns {Manifest | undefined} */
function readManifest(root = ROOT) {
  try {
    return JSON.parse(readFileSync(manifestPath(root), "utf8"));
  } catch {
    return undefined;
  }
}

/** @returns {Stamp | undefined} */
function statStamp(/** @type {string} */ p) {
  const s = statSync(p, { throwIfNoEntry: false });
  return s ? [s.mtimeMs, s.size] : undefined;
}

/** The fresh bundle's entry file, or why there is none. */
export function freshEntry(root = ROOT) {
  const m = readManifest(root);
  const reason = staleReason(m, root, statStamp);
  return reason ? { reason } : { entry: join(root, /** @type {Manifest} */ (m).entry) };
}

/**
 * esbuild plugin: the SDK's module-mode entrypoint becomes a stub that throws when called, which leaves its
 * introspector and `typescript` out of the bundle; `typescript` imported statically from anywhere else fails the build.
 */
const noModuleMode = {
  name: "no-module-mode",
  setup(/** @type {any} */ build) {
    build.onResolve({ filter: /\/module\/entrypoint\/entrypoint\.js$/ }, (/** @type {{ importer: string }} */ args) =>
      /[\\/]@dagger\.io[\\/]dagger[\\/]/.test(args.importer) ? { path: "entrypoint", namespace: "slipway-stub" } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "slipway-stub" }, () => ({
      loader: "js",
      contents: `export function entrypoint() { throw new Error("the slipway CLI bundle leaves out the SDK's module-mode entrypoint"); }`,
    }));
    // a dynamic import (the config's type check, ci/cli/config.ts) loads it only when that code runs: left external
    build.onResolve({ filter: /^typescript$/ }, (/** @type {{ importer: string, kind: string }} */ args) =>
      args.kind === "dynamic-import"
        ? { path: "typescript", external: true }
        : {
            errors: [{ text: `${args.importer} imports typescript: it would cost every start half a second (only module mode needs it)` }],
          },
    );
  },
};

const LOADERS = {
  ".ts": "ts",
  ".mts": "ts",
  ".cts": "ts",
  ".tsx": "tsx",
  ".js": "js",
  ".mjs": "js",
  ".cjs": "js",
  ".jsx": "jsx",
  ".json": "json",
};

/**
 * esbuild plugin: loads every source file, noting its stamp as read (`seen`, by absolute path), and gives its
 * import.meta.url/dirname/filename (and a CommonJS file's __dirname/__filename) their original values.
 * @param {Map<string, Stamp>} seen
 */
const sources = (seen) => ({
  name: "sources",
  setup(/** @type {any} */ build) {
    build.onLoad({ filter: /.*/, namespace: "file" }, (/** @type {{ path: string }} */ args) => {
      const ext = /** @type {keyof typeof LOADERS} */ (extname(args.path));
      const loader = LOADERS[ext];
      if (!loader) return undefined;
      const stamp = statStamp(args.path); // before reading: a change from here on shows after the build
      const text = readFileSync(args.path, "utf8");
      if (stamp) seen.set(args.path, stamp);
      if (loader === "json") return { contents: text, loader };
      const values = { url: pathToFileURL(args.path).href, dirname: dirname(args.path), filename: args.path };
      let contents = text.includes("import.meta")
        ? text.replace(/\bimport\.meta\.(url|dirname|filename)\b/g, (_, k) =>
            JSON.stringify(values[/** @type {keyof typeof values} */ (k)]),
          )
        : text;
      // a CommonJS module is wrapped in its own function: these vars stay local to it
      if (/\b__(dirname|filename)\b/.test(text) && !/\b(const|let|var|function|class)\s+__(dirname|filename)\b/.test(text)) {
        contents = `var __dirname = ${JSON.stringify(values.dirname)}, __filename = ${JSON.stringify(values.filename)};\n${contents}`;
      }
      return { contents, loader };
    });
  },
});

/** True when the build directory can be written (a read-only checkout cannot have a bundle). */
export function canWrite(root = ROOT) {
  try {
    mkdirSync(buildDir(root), { recursive: true });
    accessSync(buildDir(root), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Builds the bundle into a new directory under node_modules/.cache/slipway/, then points the manifest at it. Returns its entry file. */
export async function build(root = ROOT) {
  const { build: esbuild } = await import("esbuild");
  /** @type {Map<string, Stamp>} */
  const seen = new Map();
  for (const p of EXTRA_INPUTS) {
    const stamp = statStamp(join(root, p));
    if (stamp) seen.set(join(root, p), stamp);
  }
  const startedAt = Date.now();
  const name = `b${startedAt}-${process.pid}`;
  const outdir = join(buildDir(root), name);
  const result = await esbuild({
    absWorkingDir: root,
    entryPoints: { slipway: "ci/cli/cli.ts" },
    bundle: true,
    splitting: true, // `slipway --help` loads the CLI's small chunks only, not the SDK
    format: "esm",
    platform: "node",
    target: "node20",
    tsconfig: join(root, "tsconfig.json"),
    outdir,
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    banner: {
      js: 'import { createRequire as __slipwayCreateRequire } from "node:module"; const require = __slipwayCreateRequire(import.meta.url);',
    },
    keepNames: true,
    // loaded from node_modules when a project's slipway.config.ts is read: esbuild finds its binary from its own
    // package directory, and the TypeScript compiler is too large to copy into every bundle
    external: ["esbuild", "typescript"],
    legalComments: "none",
    metafile: true,
    logLevel: "silent",
    plugins: [noModuleMode, sources(seen)],
  });
  /** @type {Manifest} */
  const manifest = { format: FORMAT, root, entry: relative(root, join(outdir, "slipway.mjs")), inputs: {} };
  const files = [
    ...Object.keys(result.metafile.inputs).filter((p) => !p.includes(":")),
    ...EXTRA_INPUTS.filter((p) => seen.has(join(root, p))),
  ];
  for (const p of files) {
    const was = seen.get(join(root, p));
    const now = statStamp(join(root, p));
    if (!now) throw new Error(`bundle input ${p} is gone after the build`);
    // not read by the plugin (no such case today): as if read at the start, give or take a coarse clock
    const changed = was ? now[0] !== was[0] || now[1] !== was[1] : now[0] >= startedAt - 2000;
    if (changed) manifest.rebuild ??= `${p} changed during the last build`; // this start uses it, the next rebuilds
    manifest.inputs[p] = was ?? now;
  }
  const tmp = `${manifestPath(root)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(manifest));
  renameSync(tmp, manifestPath(root)); // atomic: a concurrent start reads the old manifest or this one
  removeOldBuilds(root, name);
  return join(outdir, "slipway.mjs");
}

function removeOldBuilds(/** @type {string} */ root, /** @type {string} */ current) {
  for (const d of readdirSync(buildDir(root))) {
    const m = /^b(\d+)-\d+$/.exec(d);
    if (!m || d === current || Date.now() - Number(m[1]) < KEEP_OLD_MS) continue;
    rmSync(join(buildDir(root), d), { recursive: true, force: true });
  }
}

/**
 * The entry file to import: the fresh bundle, else a new one. Undefined when there can be none (read-only
 * checkout, esbuild missing, the build failed, SLIPWAY_BUNDLE=off): the caller runs the sources through tsx.
 * SLIPWAY_BUNDLE=debug says on stderr why it rebuilds and why it falls back.
 */
export async function bundledEntry(root = ROOT) {
  if (process.env.SLIPWAY_BUNDLE === "off") return undefined;
  const debug =
    process.env.SLIPWAY_BUNDLE === "debug" ? (/** @type {string} */ line) => process.stderr.write(`slipway bundle: ${line}\n`) : () => {};
  const fresh = freshEntry(root);
  if (fresh.entry) return fresh.entry;
  if (!canWrite(root)) {
    debug(`${fresh.reason}, and ${buildDir(root)} cannot be written: running the sources`);
    return undefined;
  }
  try {
    const t0 = performance.now();
    // a first run after npm ci or a change waits a second or two here: a terminal is told why
    if (process.stderr.isTTY && process.env.SLIPWAY_BUNDLE !== "debug")
      process.stderr.write(`slipway: compiling the CLI (${fresh.reason})\n`);
    const entry = await build(root);
    debug(`${fresh.reason}: rebuilt in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    return entry;
  } catch (err) {
    debug(`${fresh.reason}, and the build failed: running the sources\n${err instanceof Error ? err.message : err}`);
    return undefined;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = performance.now();
  const entry = await build();
  process.stdout.write(`slipway: built ${relative(process.cwd(), entry)} in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
}
