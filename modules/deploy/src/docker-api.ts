/**
 * The Docker Engine API over a unix socket, and what a target serves read from it without the lock or a container.
 * Shared by the rollout controller (plain node in a container, type stripping: no enums, no parameter properties)
 * and by a caller on the target's own host (the CLI's no-op check before a deploy of what is already live).
 */
import { request } from "node:http";
import { createHash } from "node:crypto";
import { type DeploySettings, haproxyConfig, PROGRESS_FILE, SERVER_STATE, servers, type Slot } from "./plan.ts";

/** One call to the Docker Engine API at socket, body as JSON or a tar archive; rejects on HTTP errors with Docker's message. */
export function dockerRequest(socket: string, method: string, path: string, body?: unknown): Promise<Buffer> {
  const tar = Buffer.isBuffer(body);
  const data = body === undefined ? undefined : tar ? body : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        method,
        path: `/v1.41${path}`,
        headers: data ? { "Content-Type": tar ? "application/x-tar" : "application/json", "Content-Length": data.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const out = Buffer.concat(chunks);
          if ((res.statusCode ?? 500) < 400) return resolve(out);
          let message = out.toString().trim();
          try {
            message = JSON.parse(message).message;
          } catch {
            // not JSON: Docker's plain-text error
          }
          reject(new Error(`Docker ${method} ${path.split("?")[0]}: ${res.statusCode} ${message}`));
        });
      },
    );
    req.on("error", (err) =>
      reject(new Error(`the Docker engine at unix://${socket} does not answer (${err.message}): check SLIPWAY_DOCKER_HOST`)),
    );
    req.end(data);
  });
}

/** The first file of a tar archive (as Docker's archive API returns one file). */
export function untarFirst(tar: Buffer): string {
  const size = parseInt(tar.subarray(124, 136).toString().replace(/\0.*$/s, "").trim() || "0", 8);
  return tar.subarray(512, 512 + size).toString();
}

/** The proxy's configuration key (a label on its container): a proxy with another one must be replaced first. */
export function proxyConfigKey(settings: DeploySettings): string {
  return createHash("sha256").update(haproxyConfig(settings, undefined)).digest("hex").slice(0, 16);
}

/** The weights of a backend's servers in a saved `show servers state` (the proxy's server-state file). */
export function parseServerState(text: string, backend = "app"): Map<string, number> {
  const lines = text.split("\n").filter(Boolean);
  const header = (lines.find((l) => l.startsWith("# ")) ?? "").slice(2).split(" ");
  const [be, name, weight] = ["be_name", "srv_name", "srv_uweight"].map((c) => header.indexOf(c));
  const out = new Map<string, number>();
  if (be < 0 || name < 0 || weight < 0) return out;
  for (const line of lines.filter((l) => !l.startsWith("#"))) {
    const row = line.split(" ");
    if (row[be] === backend && row.length > weight) out.set(row[name], Number(row[weight]));
  }
  return out;
}

interface ContainerInfo {
  Names: string[];
  State: string;
  Labels: Record<string, string>;
}

/**
 * The image serving on a Docker host target and its slot, when that is certain from what the target records: the
 * proxy runs with these settings, no rollout is in progress, the saved weights put the traffic on one slot and every
 * replica of that slot runs. undefined otherwise (the controller then looks, under the lock).
 */
export async function servingImage(socket: string, settings: DeploySettings): Promise<{ image: string; slot: Slot } | undefined> {
  const call = (path: string) => dockerRequest(socket, "GET", path);
  const filters = encodeURIComponent(JSON.stringify({ label: [`slipway.app=${settings.app}`] }));
  const containers = JSON.parse((await call(`/containers/json?all=1&filters=${filters}`)).toString()) as ContainerInfo[];
  const proxy = `${settings.app}-proxy`;
  const running = (name: string) => containers.find((c) => c.Names.includes(`/${name}`) && c.State === "running");
  if (running(proxy)?.Labels["slipway.proxy-config"] !== proxyConfigKey(settings)) return undefined;
  const file = (path: string) => call(`/containers/${proxy}/archive?path=${encodeURIComponent(path)}`).then(untarFirst);
  const absent = (e: Error) => (/: 404 /.test(e.message) ? undefined : Promise.reject(e));
  if ((await file(PROGRESS_FILE).catch(absent)) !== undefined) return undefined;
  const weights = parseServerState((await file(SERVER_STATE).catch(absent)) ?? "");
  const taking = (["blue", "green"] as Slot[]).filter((slot) => servers(settings, slot).some((n) => (weights.get(n) ?? 0) > 0));
  if (taking.length !== 1) return undefined;
  const replicas = servers(settings, taking[0]).map((n) => running(`${settings.app}-${n}`));
  const images = new Set(replicas.map((c) => c?.Labels["slipway.image"]));
  const [image] = images;
  return replicas.every(Boolean) && images.size === 1 && image ? { image, slot: taking[0] } : undefined;
}
