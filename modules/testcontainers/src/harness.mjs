#!/usr/bin/env node
/**
 * testcontainers-harness REPORTS -- COMMAND...
 *
 * Runs a test command against the Docker engine bound at DOCKER_HOST and does the reaper's job (Testcontainers'
 * Ryuk is disabled inside the pipeline): it removes what an interrupted run left behind, follows the logs of every
 * container the tests start (so that they survive the tests removing their containers), records the images the
 * engine pulled, and removes every container afterwards. REPORTS/docker.json and REPORTS/containers/<name>.log
 * hold the results; the exit code is the command's. Plain Node (>= 18), no dependencies: it runs in the
 * project's own image.
 */
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [reports, separator, ...command] = process.argv.slice(2);
if (!reports || separator !== "--" || command.length === 0) {
  console.error("usage: testcontainers-harness.mjs REPORTS -- COMMAND [ARGS...]");
  process.exit(2);
}
const engine = process.env.DOCKER_HOST ?? "";
if (!engine.startsWith("tcp://")) {
  console.error(`testcontainers-harness: DOCKER_HOST must be tcp://host:port (it is "${engine}")`);
  process.exit(2);
}
const base = engine.replace(/^tcp:/, "http:");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(path, init = {}) {
  const r = await fetch(base + path, init);
  if (!r.ok && r.status !== 304) throw new Error(`Docker API ${init.method ?? "GET"} ${path}: ${r.status} ${(await r.text()).trim()}`);
  return r;
}
const json = async (path, init) => (await api(path, init)).json();
const filters = (f) => `filters=${encodeURIComponent(JSON.stringify(f))}`;

/** Newline-delimited JSON from a streaming response. */
async function* lines(body) {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) yield JSON.parse(line);
    }
  }
}

async function waitForEngine(timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${base}/_ping`)).ok) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`the Docker engine at ${engine} did not answer within ${timeoutMs / 1000}s`);
    await sleep(500);
  }
}

async function removeAll() {
  const list = await json("/containers/json?all=1");
  for (const c of list) await api(`/containers/${c.Id}?force=1&v=1`, { method: "DELETE" });
  return list.length;
}

/** Writes a container's log stream to a file, stripping the 8-byte frame headers of non-TTY streams. */
function follow(id, name, image, followed) {
  const file = `containers/${image.replace(/[^A-Za-z0-9.-]+/g, "-")}-${name}.log`;
  const out = createWriteStream(join(reports, file));
  const done = (async () => {
    const r = await api(`/containers/${id}/logs?follow=1&stdout=1&stderr=1&timestamps=1`);
    let pending = Buffer.alloc(0);
    let framed;
    for await (const chunk of r.body) {
      pending = Buffer.concat([pending, chunk]);
      framed ??= pending[0] <= 2 && pending.readUIntBE(1, 3) === 0;
      if (!framed) {
        out.write(pending);
        pending = Buffer.alloc(0);
        continue;
      }
      while (pending.length >= 8 && pending.length >= 8 + pending.readUInt32BE(4)) {
        const size = pending.readUInt32BE(4);
        out.write(pending.subarray(8, 8 + size));
        pending = pending.subarray(8 + size);
      }
    }
  })()
    .catch(() => {
      /* the container went away: what was read is kept */
    })
    .finally(() => new Promise((r) => out.end(r)));
  followed.set(id, { name, image, log: file, done });
}

function run(argv) {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: "inherit" });
    child.on("error", (err) => {
      console.error(`testcontainers-harness: cannot run ${argv[0]}: ${err.message}`);
      resolve(127);
    });
    child.on("exit", (code, signal) => resolve(code ?? 128 + (signal === "SIGKILL" ? 9 : 15)));
  });
}

mkdirSync(join(reports, "containers"), { recursive: true });
await waitForEngine();
const stale = await removeAll();
const since = Math.floor(Date.now() / 1000);

const followed = new Map();
const watching = new AbortController();
const watcher = (async () => {
  const r = await api(`/events?since=${since}&${filters({ type: ["container"], event: ["start"] })}`, { signal: watching.signal });
  for await (const e of lines(r.body)) {
    if (!followed.has(e.id)) follow(e.id, e.Actor.Attributes.name, e.Actor.Attributes.image, followed);
  }
})().catch(() => {
  /* aborted at the end */
});

const exitCode = await run(command);

const until = Math.ceil(Date.now() / 1000) + 1;
const removed = await removeAll();
await Promise.race([Promise.all([...followed.values()].map((c) => c.done)), sleep(10_000)]);
watching.abort();
await watcher;

const pulled = [];
const r = await api(`/events?since=${since}&until=${until}&${filters({ type: ["image"], event: ["pull"] })}`);
for await (const e of lines(r.body)) pulled.push(e.Actor.ID);
const leftovers = (await json("/containers/json?all=1")).length;

const containers = [...followed.values()].map(({ name, image, log }) => ({ name, image, log }));
writeFileSync(
  join(reports, "docker.json"),
  JSON.stringify({ engine, exitCode, stale, containers, removed, pulled, leftovers }, null, 2) + "\n",
);
console.error(
  `testcontainers: ${containers.length} container(s) started, ${removed} removed after the tests, ` +
    `${leftovers} left; pulled: ${pulled.join(", ") || "nothing"}`,
);
process.exit(exitCode);
