// Slipway's TypeScript SDK runtime: how an engine with no registry access loads TypeScript modules.
//
// It follows the rules of the official runtime of Dagger v0.19.10, so that a module that loads here loads online:
// only the module's source directory reaches the container; dependencies come from that directory's own
// package.json and lockfile (with @dagger.io/dagger removed and typescript added); its tsconfig.json gains the
// paths into sdk/ and experimentalDecorators; tsx runs src/__dagger.entrypoint.ts. What differs is where things
// come from: node from the mirror's node image, the SDK library, tsx and TypeScript from library/ in this SDK's
// image, the client code generator from /codegen there.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"typescript-sdk/internal/dagger"
)

const (
	// where the module's context directory sits in every container (the module at /src/<subpath>)
	srcRoot = "/src"
	// where library/ of this SDK's image is mounted
	libraryPath = "/usr/local/lib/dagger-typescript-sdk"
	schemaPath  = "/schema.json"
	codegenPath = "/usr/local/bin/codegen"
	// the TypeScript the official runtime adds to a module that names none
	defaultTypeScript = "5.9.3"
	defaultNodeImage  = "node:22"
)

type TypescriptSdk struct {
	SDKSourceDir *dagger.Directory
}

func New(
	// The SDK image's root filesystem: runtime/ (this module), library/ and codegen.
	// +optional
	sdkSourceDir *dagger.Directory,
) *TypescriptSdk {
	return &TypescriptSdk{SDKSourceDir: sdkSourceDir}
}

// ModuleRuntime returns the container the engine runs to register the module and to call its functions.
func (t *TypescriptSdk) ModuleRuntime(ctx context.Context, modSource *dagger.ModuleSource, introspectionJSON *dagger.File) (*dagger.Container, error) {
	m, err := load(ctx, modSource)
	if err != nil {
		return nil, err
	}
	configs := t.configs(m)
	ctr, err := t.installed(m, configs).Sync(ctx)
	if err != nil {
		return nil, fmt.Errorf("installing the dependencies of %s: %w", m.name, err)
	}
	sdk := t.sdk(m, introspectionJSON)
	entrypoint := path.Join(m.dir(), "src", "__dagger.entrypoint.ts")
	return ctr.
		WithMountedDirectory("sdk", sdk).
		// the introspector resolves the bare import through node_modules, not through tsconfig paths
		WithMountedDirectory("node_modules/@dagger.io/dagger", sdk).
		WithFile("tsconfig.json", configs.File("tsconfig.json")).
		WithDirectory(".", m.code()).
		WithFile(entrypoint, t.library().File("entrypoint.ts")).
		WithEntrypoint([]string{"node", libraryPath + "/node_modules/tsx/dist/cli.mjs", "--no-deprecation",
			"--tsconfig", path.Join(m.dir(), "tsconfig.json"), entrypoint}), nil
}

// Codegen returns what `dagger init`, `dagger develop` and `dagger install` write into the module: package.json,
// tsconfig.json and the lockfile as the runtime uses them, sdk/, and a first src/index.ts for a new module.
func (t *TypescriptSdk) Codegen(ctx context.Context, modSource *dagger.ModuleSource, introspectionJSON *dagger.File) (*dagger.GeneratedCode, error) {
	m, err := load(ctx, modSource)
	if err != nil {
		return nil, err
	}
	configs := t.configs(m)
	lock := m.pm.lockfile()
	dir := dag.Directory().
		WithDirectory(".", m.code()).
		WithFile("package.json", configs.File("package.json")).
		WithFile("tsconfig.json", configs.File("tsconfig.json")).
		WithFile(lock, t.base(m).
			WithFile("package.json", configs.File("package.json")).
			WithDirectory(".", m.source, dagger.ContainerWithDirectoryOpts{Include: []string{lock, ".npmrc"}}).
			WithExec(m.pm.setupCommand()).
			WithExec(m.pm.lockCommand()).
			File(lock)).
		WithDirectory("sdk", t.sdk(m, introspectionJSON))
	files, err := m.source.Glob(ctx, "src/**/*.ts")
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		dir = dir.WithNewFile("src/index.ts", templateIndex(m.name))
	}
	return dag.GeneratedCode(dag.Directory().WithDirectory(m.subPath, dir)).
		WithVCSGeneratedPaths([]string{"sdk/**"}).
		WithVCSIgnoredPaths([]string{"sdk", "**/node_modules/**", "**/.pnpm-store/**"}), nil
}

func (t *TypescriptSdk) library() *dagger.Directory { return t.SDKSourceDir.Directory("library") }

// base: the module's image with the library mounted, in the module's directory.
func (t *TypescriptSdk) base(m *module) *dagger.Container {
	return dag.Container().From(m.image).
		WithMountedDirectory(libraryPath, t.library()).
		WithEnvVariable("COREPACK_ENABLE_DOWNLOAD_PROMPT", "0").
		// Yarn 2+ through corepack: from the npm registry, as every other package
		WithEnvVariable("COREPACK_NPM_REGISTRY", "https://registry.npmjs.org").
		WithWorkdir(m.dir()).
		WithMountedCache(m.pm.cachePath(), dag.CacheVolume(m.pm.cacheVolume()), dagger.ContainerWithMountedCacheOpts{
			Sharing: dagger.CacheSharingModeShared,
		})
}

// configs: package.json and tsconfig.json as the runtime uses them (library/prepare.mjs).
func (t *TypescriptSdk) configs(m *module) *dagger.Directory {
	return dag.Container().From(m.image).
		WithMountedDirectory(libraryPath, t.library()).
		WithDirectory("/module", m.source, dagger.ContainerWithDirectoryOpts{Include: []string{"package.json", "tsconfig.json"}}).
		WithWorkdir("/module").
		WithExec([]string{"node", libraryPath + "/prepare.mjs", "/out"}).
		Directory("/out")
}

// installed: the module's dependencies installed from its package.json and lockfile, before any source file is
// added (a source change reuses this layer).
func (t *TypescriptSdk) installed(m *module, configs *dagger.Directory) *dagger.Container {
	ctr := t.base(m).WithFile("package.json", configs.File("package.json"))
	// a module that needs nothing but the default TypeScript gets the library's (no install at all); a mounted
	// node_modules/typescript under an npm install would be a directory npm cannot replace
	if len(m.deps) == 1 && m.deps["typescript"] == defaultTypeScript {
		return ctr.WithMountedDirectory("node_modules/typescript", t.library().Directory("node_modules/typescript"))
	}
	return ctr.
		WithDirectory(".", m.source, dagger.ContainerWithDirectoryOpts{Include: []string{m.pm.lockfile(), ".npmrc"}}).
		WithExec(m.pm.setupCommand()).
		WithExec(m.pm.installCommand())
}

// sdk: the SDK library as the module imports it (sdk/), with the API client generated for this module.
func (t *TypescriptSdk) sdk(m *module, introspectionJSON *dagger.File) *dagger.Directory {
	client := dag.Container().From(m.image).
		WithMountedFile(codegenPath, t.SDKSourceDir.File("codegen")).
		WithMountedFile(schemaPath, introspectionJSON).
		WithWorkdir(m.dir()).
		WithExec([]string{codegenPath, "generate-module", "--lang", "typescript", "--output", srcRoot,
			"--module-name", m.name, "--module-source-path", m.dir(), "--introspection-json-path", schemaPath, "--bundle"},
			dagger.ContainerWithExecOpts{ExperimentalPrivilegedNesting: true}).
		File(path.Join(m.dir(), "sdk/src/api/client.gen.ts"))
	return t.library().Directory("sdk").WithFile("client.gen.ts", client)
}

// module: what the runtime reads of a module before building anything.
type module struct {
	name    string
	subPath string
	source  *dagger.Directory
	deps    map[string]string
	image   string
	pm      packageManager
}

func (m *module) dir() string { return path.Join(srcRoot, m.subPath) }

// code: the module's files without what the runtime provides itself (configs, sdk/, node_modules).
func (m *module) code() *dagger.Directory {
	return dag.Directory().WithDirectory("/", m.source, dagger.DirectoryWithDirectoryOpts{
		Exclude: append(configFiles(), "sdk", "node_modules"),
	})
}

func configFiles() []string {
	return []string{"package.json", "tsconfig.json", "pnpm-workspace.yaml", ".yarnrc.yml", "package-lock.json", "yarn.lock",
		"pnpm-lock.yaml", "bun.lockb", "bun.lock", "bunfig.toml", "deno.json", "deno.lock"}
}

type packageJSON struct {
	PackageManager string            `json:"packageManager"`
	Dependencies   map[string]string `json:"dependencies"`
	Dagger         *struct {
		BaseImage string `json:"baseImage"`
		Runtime   string `json:"runtime"`
	} `json:"dagger"`
}

func load(ctx context.Context, modSource *dagger.ModuleSource) (*module, error) {
	m := &module{source: dag.Directory(), deps: map[string]string{}, image: defaultNodeImage}
	var err error
	if m.name, err = modSource.ModuleOriginalName(ctx); err != nil {
		return nil, fmt.Errorf("reading the module name: %w", err)
	}
	if m.subPath, err = modSource.SourceSubpath(ctx); err != nil {
		return nil, fmt.Errorf("reading the module's source path: %w", err)
	}
	// a module being initialized has no source directory yet
	if _, err := modSource.ContextDirectory().Directory(m.subPath).Entries(ctx); err == nil {
		m.source = modSource.ContextDirectory().Directory(m.subPath)
	}
	entries, err := dag.Directory().WithDirectory(".", m.source, dagger.DirectoryWithDirectoryOpts{Include: configFiles()}).Entries(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the module's files: %w", err)
	}
	has := map[string]bool{}
	for _, e := range entries {
		has[e] = true
	}
	var pkg packageJSON
	if has["package.json"] {
		text, err := m.source.File("package.json").Contents(ctx)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(text), &pkg); err != nil {
			return nil, fmt.Errorf("%s/package.json: %w", m.subPath, err)
		}
	}
	for k, v := range pkg.Dependencies {
		if k != "@dagger.io/dagger" {
			m.deps[k] = v
		}
	}
	if _, ok := m.deps["typescript"]; !ok {
		m.deps["typescript"] = defaultTypeScript
	}
	if pkg.Dagger != nil && pkg.Dagger.Runtime != "" {
		runtime, version, _ := strings.Cut(pkg.Dagger.Runtime, "@")
		if runtime != "node" {
			return nil, fmt.Errorf("%s/package.json: dagger.runtime %q is not supported by this engine's TypeScript runtime: use node", m.subPath, pkg.Dagger.Runtime)
		}
		if version != "" {
			m.image = "node:" + version
		}
	}
	if pkg.Dagger != nil && pkg.Dagger.BaseImage != "" {
		m.image = pkg.Dagger.BaseImage
	}
	if has["bun.lockb"] || has["bun.lock"] || has["deno.json"] || has["deno.lock"] {
		return nil, fmt.Errorf("%s: Bun and Deno modules are not supported by this engine's TypeScript runtime: use npm, yarn or pnpm", m.subPath)
	}
	m.pm, err = detectPackageManager(pkg.PackageManager, has)
	if err != nil {
		return nil, fmt.Errorf("%s/package.json: %w", m.subPath, err)
	}
	return m, nil
}

func templateIndex(name string) string {
	class := ""
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' || r == ' ' }) {
		class += strings.ToUpper(part[:1]) + part[1:]
	}
	return fmt.Sprintf(`/**
 * The %[1]s module: each function of this class is one that `+"`dagger call`"+` runs.
 */
import { dag, Container, object, func } from "@dagger.io/dagger"

@object()
export class %[2]s {
  /** A container that echoes its argument. */
  @func()
  containerEcho(stringArg: string): Container {
    return dag.container().from("debian:bookworm-slim").withExec(["echo", stringArg])
  }
}
`, name, class)
}
