/**
 * The offline engine, end to end through the SDK in client mode: a real engine, the mirrored images,
 * service bindings and the cache across sessions.
 */
import { connection, dag } from "@dagger.io/dagger";
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { NODE_MAJOR } from "../platform/versions.ts";

/** One SDK session per call, as a separate `slipway` run would have. */
async function session<T>(fn: () => Promise<T>): Promise<T> {
  let out: T | undefined;
  await connection(async () => {
    out = await fn();
  });
  return out as T;
}

describe("offline engine", () => {
  it(`runs node:${NODE_MAJOR} from the mirror with the pinned major`, async () => {
    const version = await session(() => dag.container().from(`node:${NODE_MAJOR}`).withExec(["node", "--version"]).stdout());
    expect(version.trim()).toMatch(new RegExp(`^v${NODE_MAJOR}\\.`));
  });

  it("npm inside a container reaches the npm registry (host CA certificates trusted)", async () => {
    const out = await session(() =>
      dag
        .container()
        .from(`node:${NODE_MAJOR}`)
        .withEnvVariable("CACHE_BUST", randomUUID())
        .withExec(["npm", "view", "is-number@7.0.0", "version"])
        .stdout(),
    );
    expect(out.trim()).toBe("7.0.0");
  });

  it("a client container talks to a Service over a service binding", async () => {
    const body = await session(async () => {
      const server = dag
        .container()
        .from(`node:${NODE_MAJOR}`)
        .withExposedPort(8080)
        .asService({ args: ["node", "-e", "require('http').createServer((q, s) => s.end('hello from ' + q.url)).listen(8080)"] });
      return dag
        .container()
        .from(`node:${NODE_MAJOR}`)
        .withServiceBinding("web", server)
        .withEnvVariable("CACHE_BUST", randomUUID())
        .withExec(["node", "-e", "fetch('http://web:8080/ping').then(r => r.text()).then(t => process.stdout.write(t))"])
        .stdout();
    });
    expect(body).toBe("hello from /ping");
  });

  it("serves an expensive exec from cache in a second session", async () => {
    const nonce = randomUUID();
    const expensive = () =>
      dag.container().from("debian:bookworm-slim").withEnvVariable("NONCE", nonce).withExec(["sh", "-c", "sleep 8; date +%s%N"]).stdout();
    const first = await session(expensive);
    const second = await session(expensive);
    // the same nanosecond timestamp means the exec did not run again
    expect(first.trim()).toMatch(/^\d{19}$/);
    expect(second).toBe(first);
  });
});
