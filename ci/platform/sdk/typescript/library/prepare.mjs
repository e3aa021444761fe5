// Applies what a TypeScript module needs to run, as the official runtime of Dagger v0.19.10 does, to the module's
// package.json and tsconfig.json (in the working directory, either may be missing) and writes them to the
// directory given as argument:
//   package.json: "type": "module"; typescript added when absent; @dagger.io/dagger removed (sdk/ provides it).
//   tsconfig.json: paths for @dagger.io/dagger and @dagger.io/dagger/telemetry into sdk/; experimentalDecorators.
// Key order and every other setting stay as the module wrote them.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

const TYPESCRIPT = "5.9.3";
const out = process.argv[2];
mkdirSync(out, { recursive: true });

function read(file, fallback) {
  if (!existsSync(file)) return fallback;
  const { config, error } = ts.parseConfigFileTextToJson(file, readFileSync(file, "utf8"));
  if (error) {
    console.error(`${file}: ${ts.flattenDiagnosticMessageText(error.messageText, "\n")}`);
    process.exit(1);
  }
  return config;
}

const pkg = read("package.json", { type: "module" });
pkg.type = "module";
pkg.dependencies ??= {};
pkg.dependencies.typescript ??= TYPESCRIPT;
delete pkg.dependencies["@dagger.io/dagger"];
if (pkg.devDependencies) delete pkg.devDependencies["@dagger.io/dagger"];
writeFileSync(join(out, "package.json"), JSON.stringify(pkg, null, 2) + "\n");

const tsconfig = read("tsconfig.json", {
  compilerOptions: { target: "ES2022", moduleResolution: "Node", experimentalDecorators: true, strict: true, skipLibCheck: true },
});
tsconfig.compilerOptions ??= {};
tsconfig.compilerOptions.paths = {
  ...tsconfig.compilerOptions.paths,
  "@dagger.io/dagger": ["./sdk/index.ts"],
  "@dagger.io/dagger/telemetry": ["./sdk/telemetry.ts"],
};
tsconfig.compilerOptions.experimentalDecorators = true;
writeFileSync(join(out, "tsconfig.json"), JSON.stringify(tsconfig, null, 2) + "\n");
