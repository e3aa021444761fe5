/** Tools built from the Go module proxy (`go install` at a pinned release), cached by version on the machine. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { paths } from "../host.ts";
import { StepError } from "../steps.ts";
import { GO_TOOLS, type GoToolName } from "../versions.ts";

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

/** The tool's binary, built once per version into SLIPWAY_CACHE/tools/<name>-<version>/. */
export async function goTool(name: GoToolName, progress: (l: string) => void): Promise<string> {
  const { pkg, version } = GO_TOOLS[name];
  const dir = join(paths.cache, "tools", `${name}-${version}`);
  const bin = join(dir, name);
  if (existsSync(bin)) return bin;
  progress(`go install ${pkg}@${version} (a few minutes on 2 cores, once per version)`);
  const r = await $({ env: { ...process.env, ...goEnv(), GOBIN: dir } })`go install -trimpath -ldflags=${"-s -w"} ${`${pkg}@${version}`}`.nothrow();
  if (r.exitCode !== 0) {
    const last = r.stderr.trim().split("\n").slice(-2).join(" | ");
    throw new StepError(`image ${GO_TOOLS[name].image}`, `go install ${pkg}@${version} failed: ${last}`,
      "check that the Go module proxy serves the module and its dependencies (go env GOPROXY), then rerun");
  }
  return bin;
}
