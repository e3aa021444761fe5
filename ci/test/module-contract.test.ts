/**
 * What `dagger call` exposes, computed by the SDK's own introspector (the code the TypeScript runtime runs to
 * register a module), without an engine: functions, arguments, defaults and cache policies.
 */
import { copyFileSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { pinnedImage, table } from "../../modules/pins/src/index.ts";
import { GO_TOOLS } from "../platform/versions.ts";

const ROOT = join(import.meta.dirname, "../..");
const introspector = join(ROOT, "node_modules/@dagger.io/dagger/dist/src/module/introspector");

/**
 * The introspector resolves core types (Directory, Container) in the module's generated client, client.gen.ts,
 * which `dagger develop` writes (it needs an engine); the installed SDK ships the same
 * declarations as client.gen.d.ts, which the scan reads under the name it looks for.
 */
const coreTypes = join(mkdtempSync(join(tmpdir(), "slipway-introspect-")), "client.gen.ts");
copyFileSync(join(ROOT, "node_modules/@dagger.io/dagger/dist/src/api/client.gen.d.ts"), coreTypes);

/**
 * Each file parsed once for the whole test file (the SDK's declarations, @types/node and TypeScript's lib are most
 * of a program's time: 12.5 s of 12.7 s for the nine modules), as the language service's document registry does.
 */
const parsed = new Map<string, ts.SourceFile | undefined>();
function program(files: string[], options: ts.CompilerOptions): ts.Program {
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) => {
    const key = `${JSON.stringify(version)}\0${name}`;
    if (!parsed.has(key)) parsed.set(key, read(name, version, ...rest));
    return parsed.get(key);
  };
  return ts.createProgram(files, options, host);
}

/**
 * The SDK's `scan` (module/introspector/index.js) with loadModule=false, step for step: the AST over a program
 * with the options its AST class uses (typescript_module/ast.js), then the module from it. Only the program is
 * built here, to share the parsed files.
 */
async function scan(files: string[], name: string) {
  const { AST } = await import(join(introspector, "typescript_module/index.js"));
  const { DaggerModule } = await import(join(introspector, "dagger_module/index.js"));
  const { convertToPascalCase } = await import(join(introspector, "case_convertor.js"));
  const all = [...files.map((f) => join(ROOT, f)), coreTypes];
  const built = program(all, {
    experimentalDecorators: true,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    target: ts.ScriptTarget.ES2022,
  });
  const ast = Object.assign(Object.create(AST.prototype), {
    files: all,
    userModule: [],
    checker: built.getTypeChecker(),
    sourceFiles: built.getSourceFiles().filter((f) => !f.isDeclarationFile),
  });
  return new DaggerModule(convertToPascalCase(name), [], ast);
}

/** A module's scan as the runtime does it: every .ts under its src/ and nothing from any other module. */
function moduleFiles(module: string): string[] {
  const src = join("modules", module, "src");
  return readdirSync(join(ROOT, src), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(src, f));
}

/** The fields slipway reads from every module's stage result (each module declares its own StageResult). */
const RESULT_FIELDS = ["cached", "command", "exitCode", "findings", "output", "message", "reports", "stage", "status"].sort();
/** ... and from each of its findings, with their types. */
const FINDING_FIELDS = {
  column: "INTEGER_KIND",
  file: "STRING_KIND",
  line: "INTEGER_KIND",
  message: "STRING_KIND",
  rule: "STRING_KIND",
  severity: "STRING_KIND",
};

/**
 * A module's StageResult and Finding: the same fields in every module, findings a list of the module's Finding,
 * and constructors without arguments (the results are built by static factories).
 */
function expectStageResult(
  objects: Record<string, { properties: Record<string, { type: { kind: string } }>; _constructor?: { arguments: object } }>,
): void {
  const result = objects["StageResult"];
  expect(Object.keys(result.properties).sort()).toEqual(RESULT_FIELDS);
  expect(result.properties.findings.type).toEqual({ kind: "LIST_KIND", typeDef: { kind: "OBJECT_KIND", name: "Finding" } });
  const finding = objects["Finding"];
  expect(Object.fromEntries(Object.entries(finding.properties).map(([k, p]) => [k, p.type.kind]))).toEqual(FINDING_FIELDS);
  for (const o of [result, finding]) expect(Object.keys(o._constructor?.arguments ?? {})).toEqual([]);
}

const sourceArg = { defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] };

describe("module contracts", () => {
  it("root module slipway: lint, typecheck, test and integration are checks taking the source with an allow-list", async () => {
    const mod = await scan(["ci/src/index.ts"], "slipway");
    const obj = mod.objects["Slipway"];
    expect(Object.keys(obj.methods).sort()).toEqual([
      "integration",
      "lint",
      "pipeline",
      "test",
      "typecheck",
      "withCommit",
      "withRegistry",
      "withScanPolicy",
      "withSigningKey",
    ]);
    expect(Object.keys(obj.methods.integration.arguments)).toEqual(["source", "registryMirror", "noCache"]);
    expect(obj.methods.integration.arguments.registryMirror.isOptional).toBe(true);
    expect(obj.methods.integration.arguments.noCache.defaultValue).toBe(false);
    for (const stage of ["lint", "typecheck", "test", "integration"]) {
      const fn = obj.methods[stage];
      expect(fn.isCheck).toBe(true);
      expect(Object.keys(fn.arguments)[0]).toEqual("source");
      expect(fn.arguments.source.defaultPath).toBe(sourceArg.defaultPath);
      expect(fn.arguments.source.ignore).toEqual(sourceArg.ignore);
      expect(fn.cache).toBeUndefined(); // pure functions of the source: the engine's default cache applies
    }
  });

  it("root module slipway: pipeline runs through verify, never cached (it pushes and signs), set up by withX(), key material as secrets", async () => {
    const methods = (await scan(["ci/src/index.ts"], "slipway")).objects["Slipway"].methods;
    const fn = methods.pipeline;
    expect(fn.cache).toBe("never");
    expect(fn.isCheck).toBeFalsy();
    expect(Object.keys(fn.arguments)).toEqual(["source", "until", "skip", "allowNoCommit", "allowFailure", "allowDirty"]);
    expect(fn.arguments.allowDirty.defaultValue).toBe(false); // a dirty source is not signed unless the caller says so
    expect(fn.arguments.source.defaultPath).toBe(sourceArg.defaultPath);
    expect(fn.arguments.source.ignore).toEqual(sourceArg.ignore);
    expect(fn.arguments.until.defaultValue).toBe("verify");
    expect(fn.arguments.allowFailure.defaultValue).toBe(false);
    expect(Object.keys(methods.withRegistry.arguments)).toEqual(["repository", "registry", "registryMirror", "username", "password"]);
    expect(methods.withRegistry.arguments.registry.isOptional).toBe(true);
    expect(Object.keys(methods.withSigningKey.arguments)).toEqual(["key", "password"]);
    for (const secret of ["key", "password"])
      expect(JSON.stringify(methods.withSigningKey.arguments[secret].type), secret).toMatch(/Secret/);
    expect(Object.keys(methods.withCommit.arguments)).toEqual(["revision", "created", "sourceUrl", "dirty"]);
    expect(Object.keys(methods.withScanPolicy.arguments)).toEqual(["scanner", "failOn", "vulnDb", "allowlist"]);
    expect(methods.withScanPolicy.arguments.failOn.defaultValue).toBe("high");
  });

  it("modules/node: install, lint, typecheck and test, and the StageResult fields", async () => {
    const mod = await scan(moduleFiles("node"), "node");
    const node = mod.objects["Node"];
    expect(Object.keys(node.methods).sort()).toEqual(["install", "integration", "lint", "test", "typecheck"]);
    expect(Object.keys(node.methods.integration.arguments)).toEqual(["source", "registryMirror", "dockerImage", "noCache"]);
    // the test stage takes the integration stage's Docker options, used when the tests need Docker
    expect(Object.keys(node.methods.test.arguments)).toEqual(["source", "workspace", "registryMirror", "dockerImage"]);
    // lint and typecheck take the project's script by name (--lint-script, --typecheck-script)
    expect(Object.keys(node.methods.lint.arguments)).toEqual(["source", "workspace", "script"]);
    expect(Object.keys(node.methods.typecheck.arguments)).toEqual(["source", "workspace", "script"]);
    expect(node.methods.test.arguments.registryMirror.isOptional).toBe(true);
    expect(node._constructor.arguments.image.defaultValue).toBe(""); // the pinned image (see "one pin table")
    expectStageResult(mod.objects);
  });

  it("modules/testcontainers: the Docker engine service, bind, the harness and the command under it", async () => {
    const mod = await scan(moduleFiles("testcontainers"), "testcontainers");
    const tc = mod.objects["Testcontainers"];
    expect(Object.keys(tc.methods).sort()).toEqual(["bind", "engine", "harness", "underHarness"]);
    expect(Object.keys(tc.methods.underHarness.arguments)).toEqual(["reports", "command"]);
    expect(tc._constructor.arguments.image.defaultValue).toBe("");
    expect(Object.keys(tc.methods.bind.arguments)).toEqual(["ctr", "registryMirror"]);
    expect(tc.methods.engine.arguments.registryMirror.isOptional).toBe(true);
  });

  it("modules image, sbom, scan and sign: functions, and their images from the pin table", async () => {
    const image = (await scan(moduleFiles("image"), "image")).objects;
    // the commit and the credentials come from builders, publish takes only what it acts on
    expect(Object.keys(image["Image"].methods).sort()).toEqual(["build", "publish", "withCommit", "withPushCredentials"]);
    expect(Object.keys(image["Image"].methods.withCommit.arguments)).toEqual(["revision", "created", "sourceUrl", "dirty"]);
    expect(Object.keys(image["Image"].methods.publish.arguments)).toEqual(["source", "repository", "allowNoCommit", "registry"]);
    expect(Object.keys(image["Published"].properties).sort()).toEqual(["baseImages", "digest", "ref", "tags"]);
    const sbom = (await scan(moduleFiles("sbom"), "sbom")).objects["Sbom"];
    expect(Object.keys(sbom.methods)).toEqual(["generate"]);
    expect(sbom._constructor.arguments.image.defaultValue).toBe("");
    const scanObjects = (await scan(moduleFiles("scan"), "scan")).objects;
    expectStageResult(scanObjects);
    const scanner = scanObjects["Scan"];
    expect(Object.keys(scanner.methods).sort()).toEqual(["database", "secrets", "vulnerabilities"]);
    expect(scanner.methods.vulnerabilities.arguments.failOn.defaultValue).toBe("high");
    expect(scanner.methods.vulnerabilities.arguments.scanner.defaultValue).toBe("trivy");
    for (const arg of ["trivyImage", "trivyDbImage", "osvScannerImage", "gitleaksImage"])
      expect(scanner._constructor.arguments[arg].defaultValue, arg).toBe("");
    const signObjects = (await scan(moduleFiles("sign"), "sign")).objects;
    expectStageResult(signObjects);
    const sign = signObjects["Sign"];
    expect(Object.keys(sign.methods).sort()).toEqual(["attest", "generateKeyPair", "publicKey", "sign", "verify"]);
    expect(sign._constructor.arguments.image.defaultValue).toBe("");
    expect(sign.methods.sign.arguments.tlog.defaultValue).toBe(false);
    expect(Object.keys(sign.methods.sign.arguments).slice(-2)).toEqual(["registryUsername", "registryPassword"]);
    // side effects (a push, a signature, a fresh key) and a verdict on the registry as it is now: never from cache,
    // also when another module calls them (the engine caches a dependency's function calls like any other); a push
    // and a verdict once per session: their results' fields are read in separate queries, which would each run again
    expect(image["Image"].methods.publish.cache).toBe("session");
    expect(sign.methods.verify.cache).toBe("session");
    for (const fn of ["sign", "attest", "generateKeyPair"]) expect(sign.methods[fn].cache, fn).toBe("never");
    // an environment's policy reaches verify: what it requires, the sources it accepts
    expect(Object.keys(sign.methods.verify.arguments)).toEqual(["ref", "publicKey", "registry", "tlog", "requires", "sources"]);
    expect(sign.methods.publicKey.cache).toBeUndefined();
  });

  it("modules deploy and smoke: side-effecting functions are never cached", async () => {
    const deployObjects = (await scan(moduleFiles("deploy"), "deploy")).objects;
    expectStageResult(deployObjects);
    expect(Object.keys(deployObjects["Deploy"].methods)).toEqual(["environment"]);
    // an environment is a typed value built with withX(); deploy and rollback act on it
    const env = deployObjects["DeployEnvironment"];
    expect(Object.keys(env.methods).sort()).toEqual([
      "deploy",
      "rollback",
      "settings",
      "withCanarySteps",
      "withDockerHost",
      "withEnvVariable",
      "withGate",
      "withGitops",
      "withHealthCheck",
      "withPrometheusGates",
      "withRegistry",
      "withReplicas",
      "withRequirements",
      "withSecretVariable",
      "withSshHost",
      "withStrategy",
      "withTrustedKey",
    ]);
    expect(Object.keys(env.methods.deploy.arguments)).toEqual(["image", "publicKey", "revision"]);
    expect(env.methods.deploy.arguments.publicKey.isOptional).toBe(true);
    expect(Object.keys(env.methods.withTrustedKey.arguments)).toEqual(["publicKey", "sources"]);
    expect(Object.keys(env.methods.withDockerHost.arguments)).toEqual(["docker", "listen", "appPort"]);
    expect(env.methods.withDockerHost.arguments.docker.type.name).toBe("Socket"); // a unix socket, never a TCP service
    for (const fn of ["deploy", "rollback"]) expect(env.methods[fn].cache, fn).toBe("never");
    expect(env.properties.maxErrorRate.type.kind).toBe("FLOAT_KIND");
    const smokeObjects = (await scan(moduleFiles("smoke"), "smoke")).objects;
    expectStageResult(smokeObjects);
    const smoke = smokeObjects["Smoke"];
    expect(Object.keys(smoke.methods)).toEqual(["run"]);
    expect(smoke.methods.run.cache).toBe("never");
    expect(smoke.methods.run.arguments.deadlineSeconds.defaultValue).toBe(30);
  });

  it("one pin table: each module runs the images modules/pins names, asks for them by a name the table has, and pins none itself", async () => {
    const pins = (await scan(moduleFiles("pins"), "pins")).objects["Pins"];
    expect(Object.keys(pins.methods).sort()).toEqual(["image", "names"]);
    const names = new Set([...Object.keys(table.images), ...Object.keys(table.tools)]);
    const pinned = [...Object.values(table.images), ...Object.values(table.tools)].map((p) => p.image);
    const asked: Record<string, string[]> = {};
    for (const module of readdirSync(join(ROOT, "modules")).filter((m) => m !== "pins")) {
      const files = readdirSync(join(ROOT, "modules", module), { recursive: true, encoding: "utf8" })
        .filter((f) => /\.(ts|mjs)$/.test(f) && !f.startsWith("node_modules") && !f.startsWith("test") && !f.startsWith("sdk"))
        .map((f) => readFileSync(join(ROOT, "modules", module, f), "utf8"));
      asked[module] = [...files.join("\n").matchAll(/(?:pinned|pins\(\)\.image)\("([^"]+)"\)/g)].map((m) => m[1]).sort();
      for (const name of asked[module]) expect(names.has(name), `${module} asks for ${name}`).toBe(true);
      for (const image of pinned) expect(files.join("\n").includes(`"${image}"`), `${module} names ${image} itself`).toBe(false);
      if (asked[module].length) {
        const deps = JSON.parse(readFileSync(join(ROOT, "modules", module, "dagger.json"), "utf8")).dependencies ?? [];
        expect(deps, module).toContainEqual({ name: "pins", source: "../pins" });
      }
    }
    expect(asked).toEqual({
      deploy: ["haproxy", "node", "prometheus"],
      image: ["regctl"],
      node: ["node"],
      sbom: ["syft"],
      scan: ["gitleaks", "osv-scanner", "trivy", "trivy-db"],
      sign: ["cosign"],
      smoke: ["node"],
      testcontainers: ["docker"],
    });
    expect(pinnedImage("cosign")).toBe(GO_TOOLS.cosign.image);
    expect(() => pinnedImage("kubectl")).toThrow(/no image named "kubectl" in the pin table: one of .*cosign/);
  });
});
