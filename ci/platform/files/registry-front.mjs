/**
 * The local registry's front door, as a daemon (`node registry-front.mjs`): Debian's docker-registry listens on a
 * unix socket only root reaches, and this process serves it on the host's loopback (and on a second unix socket,
 * mode 600). Reads (GET, HEAD) are anonymous, as on Docker Hub; every write (push, delete) needs the registry's
 * credentials. Clients authenticate as they do with Docker Hub: `GET /v2/` without credentials answers a Bearer
 * challenge naming this front's /token endpoint, which hands an anonymous client a pull token and a client with
 * the credentials (HTTP Basic) a push token; docker, BuildKit, cosign and regctl all follow it. HTTP Basic
 * credentials on any request are accepted too. Tokens are this front's own (HMAC-signed, an hour), keyed by the
 * credentials, so they mean nothing to anyone else.
 *
 * Arguments: LISTEN_HOST LISTEN_PORT FRONT_SOCKET BACKEND_SOCKET CREDENTIALS_FILE VERSION
 * CREDENTIALS_FILE holds {"username": ..., "password": ...}; VERSION is echoed in X-Slipway-Registry so that
 * `engine up` notices a front started from older code.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { chmodSync, readFileSync, rmSync } from "node:fs";
import { Agent, createServer, request } from "node:http";

const [host, port, frontSocket, backendSocket, credentialsFile, version] = process.argv.slice(2);
const { username, password } = JSON.parse(readFileSync(credentialsFile, "utf8"));
const digest = (text) => createHash("sha256").update(text).digest();
const expected = digest(`${username}:${password}`);
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const READS = new Set(["GET", "HEAD"]);
const signingKey = digest(`slipway registry tokens\n${username}:${password}`);
const TOKEN_SECONDS = 3600;

const sign = (payload) => createHmac("sha256", signingKey).update(payload).digest("base64url");

function token(grant) {
  const payload = Buffer.from(JSON.stringify({ g: grant, e: Math.floor(Date.now() / 1000) + TOKEN_SECONDS })).toString("base64url");
  return `${payload}.${sign(payload)}`;
}

/** The grant of a token this front issued: "push" or "pull"; undefined when forged or expired. */
function tokenGrant(text) {
  const [payload, mac] = text.split(".");
  if (!payload || !mac) return undefined;
  const want = Buffer.from(sign(payload));
  if (want.length !== Buffer.byteLength(mac) || !timingSafeEqual(want, Buffer.from(mac))) return undefined;
  const { g, e } = JSON.parse(Buffer.from(payload, "base64url").toString());
  return e > Date.now() / 1000 ? g : undefined;
}

/** What the request may do: "push", "pull" (anonymous or a pull token), or "denied" (wrong credentials, a bad token). */
function access(req) {
  const auth = req.headers.authorization ?? "";
  const basic = /^Basic\s+(\S+)$/i.exec(auth);
  if (basic) return timingSafeEqual(digest(Buffer.from(basic[1], "base64")), expected) ? "push" : "denied";
  const bearer = /^Bearer\s+(\S+)$/i.exec(auth);
  if (bearer) return tokenGrant(bearer[1]) ?? "denied";
  return "anonymous";
}

function refuse(req, res, why) {
  const body = JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: why, detail: null }] });
  const repo = /^\/v2\/(.+?)\/(?:blobs|manifests|tags)\//.exec(req.url ?? "")?.[1];
  const scope = repo ? `,scope="repository:${repo}:pull,push"` : "";
  res.writeHead(401, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "WWW-Authenticate": `Bearer realm="http://${req.headers.host ?? `${host}:${port}`}/token",service="slipway-registry"${scope}`,
    "Docker-Distribution-Api-Version": "registry/2.0",
    "X-Slipway-Registry": version,
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

/**
 * /token: a push token for the credentials, a pull token for anyone else. GET with HTTP Basic (the token spec),
 * or POST with an OAuth2 password grant (what the Docker daemon sends when it has credentials).
 */
async function issue(req, res) {
  let a = access(req);
  if (req.method === "POST") {
    const chunks = [];
    for await (const c of req) if (chunks.push(c) > 64) break; // a form of a few fields
    const form = new URLSearchParams(Buffer.concat(chunks).toString());
    if (form.get("grant_type") === "password") {
      const given = digest(`${form.get("username") ?? ""}:${form.get("password") ?? ""}`);
      a = timingSafeEqual(given, expected) ? "push" : "denied";
    }
  }
  if (a === "denied") return refuse(req, res, "wrong registry credentials");
  const t = token(a === "push" ? "push" : "pull");
  const body = JSON.stringify({
    token: t,
    access_token: t,
    token_type: "Bearer",
    expires_in: TOKEN_SECONDS,
    issued_at: new Date().toISOString(),
  });
  res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), "X-Slipway-Registry": version });
  res.end(body);
}

function handle(req, res) {
  if (/^\/token(\?|$)/.test(req.url ?? "")) {
    issue(req, res).catch(() => res.destroy());
    return;
  }
  const a = access(req);
  const ping = /^\/v2\/?(\?.*)?$/.test(req.url ?? "");
  if (a === "denied") return refuse(req, res, "wrong registry credentials or an expired token");
  if ((ping && a === "anonymous") || (!READS.has(req.method) && a !== "push")) {
    return refuse(req, res, ping ? "anonymous: reads only" : `${req.method} needs the registry's credentials`);
  }
  const headers = { ...req.headers, "x-forwarded-proto": "http" };
  delete headers.authorization;
  const upstream = request({ socketPath: backendSocket, agent, method: req.method, path: req.url, headers }, (r) => {
    res.writeHead(r.statusCode ?? 502, { ...r.headers, "x-slipway-registry": version });
    r.pipe(res);
  });
  upstream.on("error", (err) => {
    if (res.headersSent) return res.destroy(err);
    res.writeHead(502, { "Content-Type": "text/plain", "X-Slipway-Registry": version });
    res.end(`the registry behind this front does not answer: ${err.message}\n`);
  });
  req.pipe(upstream);
}

const tcp = createServer(handle).listen(Number(port), host);
tcp.on("error", (err) => {
  process.stderr.write(`registry front: ${host}:${port}: ${err.message}\n`);
  process.exit(1);
});
rmSync(frontSocket, { force: true, recursive: true }); // a stale socket, or a directory a bind mount made in its place
const unix = createServer(handle).listen(frontSocket, () => chmodSync(frontSocket, 0o600));
unix.on("error", (err) => {
  process.stderr.write(`registry front: ${frontSocket}: ${err.message}\n`);
  process.exit(1);
});
process.on("SIGTERM", () => process.exit(0));
