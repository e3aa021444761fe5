/**
 * The Kubernetes target's programs, built from the Go module proxy once per version into
 * SLIPWAY_CACHE/tools/kubernetes-<version>/: the server components and kubectl from k8s.io/kubernetes (in a wrapper
 * module that pins its staging modules, k8s.io/api and the rest, at the matching v0.<minor>.<patch>: the main
 * module's own `replace ./staging/...` lines do not apply to a dependency), etcd from go.etcd.io/etcd/server/v3
 * with a main of Slipway's (the upstream main module replaces its siblings by path), and the pod sandbox's pause
 * program (files/pause.go). The Go build cache of these builds is thrown away afterwards (about 3 GB).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { $, type Shell } from "zx";
import { ensureDir, paths, requireDisk } from "./host.ts";
import { goEnv } from "./images/go-tools.ts";
import { StepError } from "./steps.ts";
import table from "../../modules/pins/pins.json" with { type: "json" };

export const KUBERNETES = table.kubernetes;
/** The programs of the node image, by name. */
export const KUBE_COMMANDS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"];
export const kubeBinDir = join(paths.cache, "tools", `kubernetes-${KUBERNETES.version}`);
export const etcdBinDir = join(paths.cache, "tools", `etcd-${KUBERNETES.etcd}`);
const PAUSE_SOURCE = fileURLToPath(new URL("./files/pause.go", import.meta.url));

/** "v1.34.4" -> the staging modules' "v0.34.4". */
export function stagingVersion(version: string): string {
  const m = /^v1\.(\d+)\.(\d+)$/.exec(version);
  if (!m) throw new Error(`not a Kubernetes release version: ${version}`);
  return `v0.${m[1]}.${m[2]}`;
}

/**
 * The staging modules k8s.io/kubernetes's go.mod replaces by path (`k8s.io/api => ./staging/src/k8s.io/api`), which a
 * wrapper module pins by version instead. The two sample modules no build here imports are left out (the proxy
 * refuses them).
 */
export function stagingModules(goMod: string): string[] {
  return [...goMod.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s*=>\s*\.\/staging\//gm)].map((m) => m[1]).filter((m) => !/^k8s\.io\/sample-/.test(m));
}

/** -X flags that stamp the release into `kubectl version` and the components' /version, as the release build does. */
export function versionStamp(version: string): string[] {
  const [major, minor] = version.replace(/^v/, "").split(".");
  const flags: string[] = [];
  for (const pkg of ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]) {
    for (const [k, v] of Object.entries({ gitVersion: version, gitMajor: major, gitMinor: minor, gitTreeState: "clean" }))
      flags.push(`-X ${pkg}.${k}=${v}`);
  }
  return flags;
}

const lastLines = (text: string) => text.trim().split("\n").slice(-3).join(" | ");

/** Runs `go` steps in a throwaway module with a throwaway build cache; the outputs are moved into `into`. */
async function wrapperBuild(
  title: string,
  name: string,
  into: string,
  outputs: string[],
  steps: (go: Shell, work: string) => Promise<void>,
): Promise<void> {
  if (outputs.every((o) => existsSync(join(into, o)))) return;
  requireDisk(title, 6);
  const work = mkdtempSync(join(ensureDir(join(paths.cache, "tmp")), `${name}-`));
  try {
    const env = { ...process.env, ...goEnv(), GOCACHE: join(work, ".gocache") };
    await steps($({ env, cwd: work, nothrow: true, quiet: true }), work);
    mkdirSync(into, { recursive: true });
    // only complete binaries land in the cache
    for (const o of outputs) renameSync(join(work, "out", o), join(into, o));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function check(title: string, what: string, r: { exitCode: number | null; stderr: string }): void {
  if (r.exitCode !== 0)
    throw new StepError(
      title,
      `${what} failed: ${lastLines(r.stderr)}`,
      "check that the Go module proxy serves the module and its dependencies (go env GOPROXY), then rerun",
    );
}

/** kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and kubectl; their directory. */
export async function buildKubernetes(title: string, progress: (l: string) => void): Promise<string> {
  const { version } = KUBERNETES;
  await wrapperBuild(title, "kubernetes", kubeBinDir, KUBE_COMMANDS, async (go) => {
    check(title, "go mod init", await go`go mod init slipway.local/kubernetes`);
    progress(`k8s.io/kubernetes@${version}: its go.mod from the Go module proxy`);
    const info = await go`go mod download -json ${`k8s.io/kubernetes@${version}`}`;
    check(title, `go mod download k8s.io/kubernetes@${version}`, info);
    const goMod = readFileSync((JSON.parse(info.stdout) as { GoMod: string }).GoMod, "utf8");
    const staging = stagingModules(goMod);
    for (const m of staging) await go`go mod edit -replace=${`${m}=${m}@${stagingVersion(version)}`}`;
    const pkgs = KUBE_COMMANDS.map((c) => `k8s.io/kubernetes/cmd/${c}`);
    progress(
      `go get the ${KUBE_COMMANDS.length} commands (${staging.length} staging modules at ${stagingVersion(version)}; about 600 MB of modules the first time)`,
    );
    check(title, "go get", await go`go get ${pkgs.map((p) => `${p}@${version}`)}`);
    progress(`go build ${KUBE_COMMANDS.join(", ")} (about 10 min of CPU on 2 cores, once per version)`);
    const ldflags = ["-s", "-w", ...versionStamp(version)].join(" ");
    check(title, "go build", await go`go build -trimpath -ldflags=${ldflags} -o out/ ${pkgs}`);
  });
  return kubeBinDir;
}

/** etcd (a main of Slipway's around go.etcd.io/etcd/server/v3's etcdmain); its path. */
export async function buildEtcd(title: string, progress: (l: string) => void): Promise<string> {
  const { etcd } = KUBERNETES;
  await wrapperBuild(title, "etcd", etcdBinDir, ["etcd"], async (go, work) => {
    check(title, "go mod init", await go`go mod init slipway.local/etcd`);
    writeFileSync(
      join(work, "main.go"),
      'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n',
    );
    progress(`go get go.etcd.io/etcd/server/v3@${etcd}`);
    check(title, "go get", await go`go get ${`go.etcd.io/etcd/server/v3@${etcd}`}`);
    check(title, "go mod tidy", await go`go mod tidy`);
    progress(`go build etcd ${etcd} (a minute or two)`);
    check(title, "go build", await go`go build -trimpath -ldflags=${"-s -w"} -o out/etcd .`);
  });
  return join(etcdBinDir, "etcd");
}

/** The pause program (files/pause.go, standard library only); its path. */
export async function buildPause(title: string): Promise<string> {
  const dir = join(paths.cache, "tools", `pause-${KUBERNETES.pause}`);
  const bin = join(dir, "pause");
  const source = readFileSync(PAUSE_SOURCE, "utf8");
  if (existsSync(bin) && existsSync(`${bin}.go`) && readFileSync(`${bin}.go`, "utf8") === source) return bin;
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env, ...goEnv(), GO111MODULE: "off" };
  const r = await $({ env, nothrow: true, quiet: true })`go build -trimpath -ldflags=${"-s -w"} -o ${`${bin}.tmp`} ${PAUSE_SOURCE}`;
  check(title, "go build pause", r);
  renameSync(`${bin}.tmp`, bin);
  writeFileSync(`${bin}.go`, source);
  return bin;
}
