/**
 * Every modules/<name> is a Dagger module on its own: the TypeScript runtime copies only that directory into its
 * container and installs from its own package.json and lockfile. So nothing under src/ may reach outside the
 * directory, its tsconfig.json extends nothing outside, its lockfile matches its package.json, its source imports
 * exactly the packages it declares, and the modules it calls through `dag` are declared in its dagger.json.
 * Pure: reads files, no engine.
 */
import { Client } from "@dagger.io/dagger";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, existsSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { ROOT, sourceFiles } from "./helpers.ts";

const MODULES = readdirSync(join(ROOT, "modules"))
  .filter((m) => existsSync(join(ROOT, "modules", m, "dagger.json")))
  .sort();
/** What `dag` offers without any dependency: the core API (container, directory, ...; the SDK defines them per instance). */
const core = new Client();
const CORE = new Set([...Object.getOwnPropertyNames(core), ...Object.getOwnPropertyNames(Object.getPrototypeOf(core))]);

const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8"));
const inside = (dir: string, path: string) => path === dir || path.startsWith(dir + sep);
const sorted = (deps: Record<string, string> = {}) => JSON.stringify(Object.entries(deps).sort(([a], [b]) => a.localeCompare(b)));
const camel = (name: string) => name.replace(/[-_]+(\w)/g, (_, c: string) => c.toUpperCase());

/** The package a bare specifier names ("yaml", "@dagger.io/dagger" from "@dagger.io/dagger/telemetry"). */
function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/**
 * What a module's `import { ... } from "@dagger.io/dagger"` can name at run time: the module API that module mode's
 * sdk/index.ts re-exports (the official runtime's list) and the generated client. Not the error classes, which
 * the npm package exports but module mode does not (type-only imports are erased, so they may name anything).
 */
const MODULE_API = new Set([
  "connection",
  "connect",
  "Context",
  "func",
  "check",
  "argument",
  "object",
  "field",
  "enumType",
  "entrypoint",
  ...Object.keys(await import(join(ROOT, "node_modules/@dagger.io/dagger/dist/src/api/client.gen.js"))),
]);

function valueImportsFromSdk(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  return sf.statements.flatMap((st) => {
    if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier) || st.moduleSpecifier.text !== "@dagger.io/dagger")
      return [];
    if (st.importClause?.isTypeOnly) return [];
    const bindings = st.importClause?.namedBindings;
    return bindings && ts.isNamedImports(bindings)
      ? bindings.elements.filter((e) => !e.isTypeOnly).map((e) => (e.propertyName ?? e.name).text)
      : [];
  });
}

/** `dag.X(...)` and `deps.X(...)` calls in a file, by X: `dag` as imported from the SDK, `deps` from a deps.ts. */
function calls(file: string, text: string): { on: string; name: string; line: number }[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const bound = new Set<string>(file.endsWith("deps.ts") ? ["deps"] : []);
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier)) continue;
    const from = st.moduleSpecifier.text;
    const bindings = st.importClause?.namedBindings;
    for (const el of bindings && ts.isNamedImports(bindings) ? bindings.elements : []) {
      if ((el.name.text === "dag" && from === "@dagger.io/dagger") || (el.name.text === "deps" && from.endsWith("deps.ts")))
        bound.add(el.name.text);
    }
  }
  const found: { on: string; name: string; line: number }[] = [];
  // `dag.x()`, and `(dag as unknown as T).x()` as a module typed without a deps.ts writes it
  const receiver = (e: ts.Expression): ts.Expression =>
    ts.isParenthesizedExpression(e) || ts.isAsExpression(e) ? receiver(e.expression) : e;
  const visit = (node: ts.Node) => {
    const on =
      ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) ? receiver(node.expression.expression) : undefined;
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && on && ts.isIdentifier(on) && bound.has(on.text)) {
      found.push({
        on: on.text,
        name: node.expression.name.text,
        line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1,
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/**
 * Everything that would break the module whose source directory is `dir` when the runtime loads it from that
 * directory alone. daggerJson: where its dagger.json is (the root module's is above its source, ci/).
 */
function violations(dir: string, daggerJson = join(dir, "dagger.json"), label = `modules/${relative(dirname(dir), dir)}`): string[] {
  const problems: string[] = [];
  const name = relative(dirname(dir), dir);
  const pkg = readJson(join(dir, "package.json"));
  const declared = new Set(Object.keys(pkg.dependencies ?? {}));
  const dagger = readJson(daggerJson);
  const dependencies: { name: string; source: string }[] = dagger.dependencies ?? [];
  const callable = new Set(dependencies.map((d) => camel(d.name)));
  // what the module's code imports (src/, and container/: programs it ships into its containers) ...
  const code = [...sourceFiles(join(dir, "src")), ...sourceFiles(join(dir, "container"))];
  // ... and what else in the directory uses its dependencies (a CLI beside the root module)
  const imported = new Set(
    sourceFiles(dir)
      .filter((f) => !/[/\\](node_modules|sdk|test)[/\\]/.test(relative(dir, f)) && !code.includes(f))
      .flatMap((f) => ts.preProcessFile(readFileSync(f, "utf8"), true, true).importedFiles.map((i) => packageOf(i.fileName))),
  );

  for (const file of code) {
    const text = readFileSync(file, "utf8");
    const where = relative(dir, file);
    const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
    // files read next to the source (readFileSync(new URL("./harness.mjs", import.meta.url)))
    for (const m of text.matchAll(/new URL\(\s*["'`]([^"'`$]+)["'`]\s*,\s*import\.meta\.url\s*\)/g)) specifiers.push(m[1]);
    for (const spec of specifiers) {
      if (spec.startsWith(".") || spec.startsWith("/")) {
        if (!inside(dir, resolve(dirname(file), spec))) problems.push(`${name}/${where}: "${spec}" is outside ${label}`);
      } else if (!spec.startsWith("node:") && !builtinModules.includes(spec)) {
        imported.add(packageOf(spec));
        if (!declared.has(packageOf(spec)))
          problems.push(`${name}/${where}: package "${packageOf(spec)}" is not in ${label}/package.json dependencies`);
      }
    }
    for (const n of valueImportsFromSdk(file, text)) {
      if (!MODULE_API.has(n))
        problems.push(`${name}/${where}: "${n}" is not exported by @dagger.io/dagger in module mode: import it as a type, or do without`);
    }
    for (const c of calls(file, text)) {
      if (c.on === "dag" && CORE.has(c.name)) continue;
      if (!callable.has(c.name))
        problems.push(
          `${name}/${where}:${c.line}: ${c.on}.${c.name}() is not a dependency in ${relative(ROOT, daggerJson).startsWith("..") ? `${label}/dagger.json` : relative(ROOT, daggerJson)}`,
        );
    }
  }
  for (const dep of declared) if (!imported.has(dep)) problems.push(`${name}: dependency "${dep}" in package.json is imported by no file`);

  for (const dep of dependencies) {
    const target = join(dirname(daggerJson), dep.source, "dagger.json");
    if (!existsSync(target)) problems.push(`${name}: dagger.json dependency ${dep.name} (${dep.source}) has no dagger.json`);
    else if (readJson(target).name !== dep.name)
      problems.push(`${name}: dagger.json dependency ${dep.name} (${dep.source}) is the module ${readJson(target).name}`);
  }

  const tsconfig = ts.readConfigFile(join(dir, "tsconfig.json"), ts.sys.readFile);
  if (tsconfig.error) problems.push(`${name}: tsconfig.json: ${ts.flattenDiagnosticMessageText(tsconfig.error.messageText, " ")}`);
  for (const ext of [tsconfig.config?.extends ?? []].flat() as string[]) {
    if (!ext.startsWith(".") && !ext.startsWith("/"))
      problems.push(`${name}: tsconfig.json extends the package "${ext}": write the options out`);
    else if (!inside(dir, resolve(dir, ext))) problems.push(`${name}: tsconfig.json extends ${ext}, outside ${label}`);
  }

  const lockfile = join(dir, "package-lock.json");
  if (!existsSync(lockfile)) {
    problems.push(`${name}: no package-lock.json (run ci/bin/module-lockfiles.sh ${label})`);
  } else {
    const root = readJson(lockfile).packages?.[""] ?? {};
    for (const field of ["dependencies", "devDependencies"]) {
      if (sorted(root[field]) !== sorted(pkg[field])) {
        problems.push(`${name}: package-lock.json ${field} differ from package.json (run ci/bin/module-lockfiles.sh ${label})`);
      }
    }
  }
  return problems;
}

describe("module boundaries", () => {
  it("finds the modules", () => {
    expect(MODULES).toEqual(expect.arrayContaining(["deploy", "image", "node", "sbom", "scan", "sign", "smoke", "testcontainers"]));
  });

  it.each(MODULES)("modules/%s is self-contained", (name) => {
    expect(violations(join(ROOT, "modules", name))).toEqual([]);
  });

  it("the root module (dagger.json, source ci/) is self-contained", () => {
    expect(violations(join(ROOT, "ci"), join(ROOT, "dagger.json"), "ci")).toEqual([]);
  });

  it("node calls testcontainers, deploy calls sign, and they ask pins for their images through dag, as declared", () => {
    const called = (name: string) =>
      sourceFiles(join(ROOT, "modules", name, "src"))
        .flatMap((f) => calls(f, readFileSync(f, "utf8")))
        .filter((c) => !(c.on === "dag" && CORE.has(c.name)))
        .map((c) => c.name);
    expect(called("node")).toEqual(["pins", "testcontainers"]);
    expect(called("deploy")).toEqual(["pins", "sign"]);
    expect(called("sign")).toEqual(["pins"]);
  });

  it("reports each kind of breach in a module that has them", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "slipway-boundaries-")), "bad");
    mkdirSync(join(dir, "src"), { recursive: true });
    writeFileSync(join(dir, "dagger.json"), JSON.stringify({ name: "bad", sdk: { source: "typescript" }, source: "." }));
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ name: "bad", dependencies: { "@dagger.io/dagger": "0.19.10", unused: "1.0.0" } }),
    );
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ extends: "../../tsconfig.json" }));
    writeFileSync(
      join(dir, "src/index.ts"),
      [
        'import { dag, ExecError } from "@dagger.io/dagger";',
        'import { StageResult } from "../../node/src/result.ts";',
        'import { parse } from "yaml";',
        'const harness = new URL("../../testcontainers/src/harness.mjs", import.meta.url);',
        "// dag.commented() is no call",
        "export const x = () => [dag.container(), dag.sign(), parse, harness, StageResult, ExecError];",
      ].join("\n"),
    );
    expect(violations(dir)).toEqual([
      'bad/src/index.ts: "../../node/src/result.ts" is outside modules/bad',
      'bad/src/index.ts: package "yaml" is not in modules/bad/package.json dependencies',
      'bad/src/index.ts: "../../testcontainers/src/harness.mjs" is outside modules/bad',
      'bad/src/index.ts: "ExecError" is not exported by @dagger.io/dagger in module mode: import it as a type, or do without',
      "bad/src/index.ts:6: dag.sign() is not a dependency in modules/bad/dagger.json",
      'bad: dependency "unused" in package.json is imported by no file',
      "bad: tsconfig.json extends ../../tsconfig.json, outside modules/bad",
      "bad: no package-lock.json (run ci/bin/module-lockfiles.sh modules/bad)",
    ]);
    writeFileSync(
      join(dir, "package-lock.json"),
      JSON.stringify({ packages: { "": { dependencies: { "@dagger.io/dagger": "0.19.9" } } } }),
    );
    expect(violations(dir)).toContain(
      "bad: package-lock.json dependencies differ from package.json (run ci/bin/module-lockfiles.sh modules/bad)",
    );
  });
});
