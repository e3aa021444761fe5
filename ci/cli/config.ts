/**
 * A project's own program: `slipway.config.ts` at the source's root, whose default export is a pipeline made with
 * `definePipeline` (ci/src/api.ts, imported as "slipway"). Before any stage runs it is type-checked (strict, as
 * TypeScript would), bundled (esbuild: "slipway" resolves to Slipway's pipeline API, "@dagger.io/dagger" to this
 * CLI's own SDK, so `dag` is the run's session) and checked whole (names, what each stage waits for, cycles).
 * Each refusal is one line naming the file and line, or the stages. No config: Slipway's golden path.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import type { Pipeline } from "../src/api.ts";
import { paths } from "../platform/host.ts";

export const CONFIG_FILE = "slipway.config.ts";
const ROOT = join(import.meta.dirname, "../..");
/** Where the config's `import ... from "slipway"` leads. */
export const API_ENTRY = join(ROOT, "ci/src/api.ts");
const SDK_KEY = Symbol.for("slipway.dagger-sdk");

/** The pipeline of source's slipway.config.ts, or undefined when it has none. */
export async function loadPipeline(source: string): Promise<Pipeline | undefined> {
  const file = join(source, CONFIG_FILE);
  if (!existsSync(file)) return undefined;
  const { code, inputs } = await bundle(file);
  // type-checked once per content of every file it is built from (a second run of the same config: no check)
  const key = createHash("sha256")
    .update(inputs.map((f) => `${f}\0${readFileSync(f, "utf8")}`).join("\0"))
    .digest("hex")
    .slice(0, 24);
  const checked = join(paths.cache, "config-checks", key);
  if (!existsSync(checked)) {
    await typeCheck(file, source);
    mkdirSync(dirname(checked), { recursive: true });
    writeFileSync(checked, `${file}\n`);
  }
  (globalThis as Record<symbol, unknown>)[SDK_KEY] = await import("@dagger.io/dagger");
  const out = join(paths.cache, "config-bundles", `${key}.mjs`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, code);
  let exported: unknown;
  try {
    exported = ((await import(pathToFileURL(out).href)) as { default?: unknown }).default;
  } catch (err) {
    throw new Error(`${CONFIG_FILE}: ${(err as Error).message.split("\n")[0]}`, { cause: err });
  }
  if ((exported as Pipeline | undefined)?.kind !== "slipway.pipeline")
    throw new Error(`${CONFIG_FILE} must \`export default definePipeline({ stages: [...] })\` (import { definePipeline } from "slipway")`);
  return exported as Pipeline;
}

/** The config bundled into one ES module, and the files it was built from (the API's included). */
async function bundle(file: string): Promise<{ code: string; inputs: string[] }> {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [file],
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    target: "node20",
    metafile: true,
    logLevel: "silent",
    plugins: [
      {
        name: "slipway",
        setup(b) {
          b.onResolve({ filter: /^slipway$/ }, () => ({ path: API_ENTRY }));
          b.onResolve({ filter: /^@dagger\.io\/dagger$/ }, () => ({ path: "dagger-sdk", namespace: "slipway-sdk" }));
          b.onLoad({ filter: /.*/, namespace: "slipway-sdk" }, () => ({
            contents: `module.exports = globalThis[Symbol.for(${JSON.stringify(SDK_KEY.description)})];`,
            loader: "js",
          }));
        },
      },
    ],
  }).catch((err: { errors?: { text: string; location?: { file: string; line: number; column: number } }[] }) => {
    const e = err.errors?.[0];
    if (!e) throw err;
    const at = e.location ? `${e.location.file}:${e.location.line}:${e.location.column + 1}: ` : `${CONFIG_FILE}: `;
    throw new Error(`${at}${e.text}`);
  });
  const inputs = Object.keys(result.metafile!.inputs)
    .filter((f) => !f.startsWith("slipway-sdk:"))
    .map((f) => join(process.cwd(), f));
  return { code: result.outputFiles![0].text, inputs };
}

/** Files that do not change while a process runs (the SDK's and Node's declarations, TypeScript's lib), parsed once. */
const parsedOnce = new Map<string, import("typescript").SourceFile | undefined>();

/**
 * Refuses a config with a type error, naming file:line:column, the message and the TS code (the first; and how many
 * more). Only the project's own files are checked (the config and what it imports from the project): Slipway's API
 * and the libraries are taken as declared, as skipLibCheck does for declaration files.
 */
async function typeCheck(file: string, source: string): Promise<void> {
  const ts = (await import("typescript")).default;
  const options: import("typescript").CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    types: ["node"],
    typeRoots: [join(ROOT, "node_modules/@types")],
    paths: { slipway: [API_ENTRY], "@dagger.io/dagger": [join(ROOT, "node_modules/@dagger.io/dagger")] },
  };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) => {
    if (!name.includes("/node_modules/")) return read(name, version, ...rest);
    const key = `${JSON.stringify(version)}\0${name}`;
    if (!parsedOnce.has(key)) parsedOnce.set(key, read(name, version, ...rest));
    return parsedOnce.get(key);
  };
  const program = ts.createProgram([file], options, host);
  const own = program
    .getSourceFiles()
    .filter((f) => !f.fileName.includes("/node_modules/") && !relative(source, f.fileName).startsWith(".."));
  const errors = [
    ...program.getOptionsDiagnostics(),
    ...own.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
  ].filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (!errors.length) return;
  const lines = errors.map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, " ");
    if (!d.file || d.start === undefined) return `${CONFIG_FILE}: ${text} (TS${d.code})`;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${relative(source, d.file.fileName)}:${line + 1}:${character + 1}: ${text} (TS${d.code})`;
  });
  throw new Error(`${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more type error(s))` : ""}`);
}
