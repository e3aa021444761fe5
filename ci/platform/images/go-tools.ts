/** Tools built from the Go module proxy at a pinned release, cached by version on the machine. */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { ensureDir, paths } from "../host.ts";
import { StepError } from "../steps.ts";
import { GO_TOOLS, type GoToolName, type GoToolSpec } from "../versions.ts";

/** The Go environment every Slipway build uses: caches under the machine cache, static binaries. */
export function goEnv(): Record<string, string> {
  return {
    GOMODCACHE: join(paths.cache, "go/mod"),
    GOCACHE: join(paths.cache, "go/build"),
    GOFLAGS: "-modcacherw",
    CGO_ENABLED: "0",
    GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? "auto",
  };
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-2).join(" | ");
}

/**
 * The tool's binary, built once per version into SLIPWAY_CACHE/tools/<name>-<version>/: by `go install`, or for a
 * tool with `wrapper` by `go get` in a throwaway module and `go build` (see GoWrapperBuild).
 */
export async function goTool(name: GoToolName, progress: (l: string) => void): Promise<string> {
  const spec: GoToolSpec = GO_TOOLS[name];
  const { pkg, version } = spec;
  const dir = join(paths.cache, "tools", `${name}-${version}`);
  const bin = join(dir, name);
  if (existsSync(bin)) return bin;
  const fail = (what: string, stderr: string) =>
    new StepError(
      `image ${spec.image}`,
      `${what} failed: ${lastLines(stderr)}`,
      "check that the Go module proxy serves the module and its dependencies (go env GOPROXY), then rerun",
    );
  if (!spec.wrapper) {
    progress(`go install ${pkg}@${version} (a few minutes on 2 cores, once per version)`);
    const r = await $({
      env: { ...process.env, ...goEnv(), GOBIN: dir },
    })`go install -trimpath -ldflags=${"-s -w"} ${`${pkg}@${version}`}`.nothrow();
    if (r.exitCode !== 0) throw fail(`go install ${pkg}@${version}`, r.stderr);
    return bin;
  }
  const { replace = {}, experiment, stamp = {} } = spec.wrapper;
  const work = mkdtempSync(join(ensureDir(join(paths.cache, "tmp")), `${name}-`));
  try {
    const env = { ...process.env, ...goEnv(), ...(experiment ? { GOEXPERIMENT: experiment } : {}) };
    const go = $({ env, cwd: work, nothrow: true });
    await go`go mod init slipway.local/tools/${name}`;
    for (const [from, to] of Object.entries(replace)) await go`go mod edit -replace=${`${from}=${to}`}`;
    progress(`go get ${pkg}@${version} in a wrapper module`);
    const get = await go`go get ${`${pkg}@${version}`}`;
    if (get.exitCode !== 0) throw fail(`go get ${pkg}@${version}`, get.stderr);
    progress(`go build ${pkg} (about 16 min on 2 cores the first time, once per version)`);
    const ldflags = ["-s", "-w", ...Object.entries(stamp).map(([k, v]) => `-X ${k}=${v}`)].join(" ");
    mkdirSync(dir, { recursive: true });
    const build = await go`go build -trimpath -ldflags=${ldflags} -o ${join(work, name)} ${pkg}`;
    if (build.exitCode !== 0) throw fail(`go build ${pkg}@${version}`, build.stderr);
    renameSync(join(work, name), bin); // only a complete binary lands in the cache
    return bin;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
