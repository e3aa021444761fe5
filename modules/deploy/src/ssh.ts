/**
 * A Docker host reached over SSH (SLIPWAY_DOCKER_HOST=ssh://user@host[:port]), as Kamal reaches its servers: one
 * ssh connection from the controller's container forwards a local unix socket to the host's Docker socket (stream
 * local forwarding), so the controller speaks the Docker API as it does to a local target; when the image is on the
 * deploying host's loopback registry, the same connection forwards the remote's 127.0.0.1:PORT back to it, so the
 * host pulls the image from there. The host key is checked against the known_hosts the environment gives (no
 * trust on first use): a changed key ends the connection before anything runs.
 * Shared by the deploy module (checks the URL) and the rollout controller (opens the tunnel); plain node.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";

export interface SshTarget {
  user: string;
  host: string;
  port: number;
  /** the Docker socket on the host */
  socket: string;
}

/** ssh://user@host[:port][/path/to/docker.sock] (default /var/run/docker.sock); an Error naming the fix otherwise. */
export function parseSshHost(value: string): SshTarget {
  const m = /^ssh:\/\/([a-z_][a-z0-9_.-]{0,31})@([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?(\/[A-Za-z0-9._/-]+)?$/.exec(value);
  const port = Number(m?.[3] ?? 22);
  if (!m || port < 1 || port > 65535 || m[4]?.includes(".."))
    throw new Error(
      `${JSON.stringify(value)} is not an SSH Docker host: write ssh://USER@HOST[:PORT], e.g. ssh://deploy@203.0.113.10 (the user must be able to use the host's Docker socket)`,
    );
  return { user: m[1], host: m[2].replace(/^\[|\]$/g, ""), port, socket: m[4] ?? "/var/run/docker.sock" };
}

/** The known_hosts name of the target, as ssh looks it up: HOST on port 22, else [HOST]:PORT. */
export const knownHostsName = (t: SshTarget) => (t.port === 22 ? t.host : `[${t.host}]:${t.port}`);

/**
 * ssh's arguments for the tunnel: the host's Docker socket at localSocket; registry ("NAME:PORT", reachable from
 * here) forwarded to the host's 127.0.0.1:PORT. Keys only, the host key checked against knownHosts, nothing asked.
 */
export function sshTunnelArgs(t: SshTarget, files: { key: string; knownHosts: string }, localSocket: string, registry?: string): string[] {
  const forwards = ["-L", `${localSocket}:${t.socket}`];
  if (registry) forwards.push("-R", `127.0.0.1:${registry.split(":").pop()}:${registry}`);
  const options = {
    BatchMode: "yes",
    IdentitiesOnly: "yes",
    StrictHostKeyChecking: "yes",
    UserKnownHostsFile: files.knownHosts,
    GlobalKnownHostsFile: "/dev/null",
    ConnectTimeout: "10",
    ServerAliveInterval: "10",
    ServerAliveCountMax: "3",
    StreamLocalBindUnlink: "yes",
    // the registry's port may be forwarded already (another deploy from this registry): the pull then uses that one
    ExitOnForwardFailure: "no",
    LogLevel: "ERROR",
  };
  return [
    // no configuration file: nothing in the image's ssh_config (a ProxyCommand, another known-hosts source) applies
    "-F",
    "none",
    "-N",
    "-T",
    "-i",
    files.key,
    ...Object.entries(options).flatMap(([k, v]) => ["-o", `${k}=${v}`]),
    "-p",
    String(t.port),
    ...forwards,
    `${t.user}@${t.host}`,
  ];
}

/**
 * An image as the host pulls it through the forwarded registry (127.0.0.1:port there): Slipway's own builds of
 * the proxy and Prometheus images (they carry socat and curl, which the controller runs in them) are served by the
 * deploying host's mirror under their upstream names (haproxy:2.6 pulled as 127.0.0.1:5000/library/haproxy:2.6). A
 * reference to another registry is left as it is.
 */
export function throughRegistry(ref: string, port: string): string {
  const first = ref.split("/")[0];
  const mirrored = /^(docker\.io|ghcr\.io|gcr\.io)$/.test(first);
  if (ref.includes("/") && !mirrored && /[.:]|^localhost$/.test(first)) return ref;
  const name = mirrored ? ref.slice(first.length + 1) : ref;
  return `127.0.0.1:${port}/${name.includes("/") ? name : `library/${name}`}`;
}

/** ssh's complaint as one line a user can act on. */
export function sshFailure(t: SshTarget, stderr: string, knownHostsFrom: string): string {
  const where = `${t.user}@${knownHostsName(t)}`;
  if (/No .*host key is known|not in the list of known hosts/i.test(stderr))
    return `${knownHostsName(t)} has no line in ${knownHostsFrom}: add the host's key (ssh-keyscan, checked against the host) first; nothing was changed on it`;
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|host key for .* has changed/i.test(stderr))
    return `the SSH host key of ${knownHostsName(t)} does not match ${knownHostsFrom}: if the host was rebuilt, check its new key and replace its line there; nothing was changed on it`;
  if (/Permission denied/i.test(stderr))
    return `${where} refused the SSH key (${stderr.trim().split("\n").pop()}): add its public key to ~${t.user}/.ssh/authorized_keys on the host`;
  const last = stderr.trim().split("\n").filter(Boolean).pop() ?? "ssh ended";
  return `cannot reach ${where} over SSH: ${last}`;
}

/**
 * Opens the tunnel and waits until the forwarded socket answers `probe` (the Docker API's ping); rejects with one line
 * (sshFailure) when ssh ends first or nothing answers within timeoutSeconds. The caller kills the process when done.
 */
export async function openTunnel(
  t: SshTarget,
  args: string[],
  localSocket: string,
  probe: () => Promise<unknown>,
  knownHostsFrom: string,
  timeoutSeconds = 30,
): Promise<ChildProcess> {
  const ssh = spawn("ssh", args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  let exited: number | null | undefined;
  ssh.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  ssh.on("exit", (code) => (exited = code));
  ssh.on("error", (err) => {
    stderr += `${err.message}\n`;
    exited = -1;
  });
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = "";
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(sshFailure(t, stderr, knownHostsFrom));
    if (existsSync(localSocket)) {
      try {
        await probe();
        return ssh;
      } catch (err) {
        last = (err as Error).message;
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  ssh.kill();
  throw new Error(
    `the Docker API of ${t.user}@${knownHostsName(t)} did not answer through SSH within ${timeoutSeconds}s (${last || stderr.trim() || "no socket"}): check that ${t.user} may use ${t.socket} on the host`,
  );
}
