import { describe, expect, it } from "vitest";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { judge, junit, parseChecks, runChecks } from "../src/checks.ts";

describe("smoke checks", () => {
  it("parses checks with defaults, and names the file, entry and fix on bad input", () => {
    expect(parseChecks('[{"name": "health", "path": "/health"}]', "smoke.json")).toEqual([
      { name: "health", path: "/health", method: "GET", status: 200, body: undefined, maxMs: 1000 },
    ]);
    expect(() => parseChecks("[{", "smoke.json")).toThrow(/^smoke\.json is not JSON/);
    expect(() => parseChecks("[]", "smoke.json")).toThrow("smoke.json must be a non-empty JSON array");
    expect(() => parseChecks('[{"name": "x", "path": "health"}]', "smoke.json")).toThrow(
      'smoke.json entry 1 ("x") needs a "path" starting with /',
    );
    expect(() => parseChecks('[{"name": "x", "path": "/", "status": 9}]', "smoke.json")).toThrow('"status" must be an HTTP status code');
  });

  it("judges status, body and latency budget", () => {
    const check = { name: "h", path: "/health", status: 200, body: '"ok"', maxMs: 100 };
    expect(judge(check, 200, '{"status":"ok"}', 20)).toBe("");
    expect(judge(check, 503, "", 20)).toBe("status 503, expected 200");
    expect(judge(check, 200, "{}", 20)).toBe('body lacks "\\"ok\\""');
    expect(judge(check, 200, '"ok"', 250)).toBe("took 250 ms, budget 100 ms");
  });

  it("writes JUnit with one testcase per check and failures with their reason", () => {
    const xml = junit(
      "http://x",
      [
        { name: "a", passed: true, attempts: 1, ms: 12, failure: "" },
        { name: "b<c", passed: false, attempts: 3, ms: 5, failure: "status 500, expected 200" },
      ],
      3.5,
    );
    expect(xml).toContain('<testsuite name="http://x" tests="2" failures="1" time="3.500">');
    expect(xml).toContain('<testcase classname="http://x" name="a" time="0.012"/>');
    expect(xml).toContain('<testcase classname="http://x" name="b&lt;c" time="0.005">');
    expect(xml).toContain('<failure message="status 500, expected 200">status 500, expected 200 after 3 attempt(s)</failure>');
  });
});

describe("runChecks", () => {
  it("retries a failing check until the deadline, passes the others, and prints a line per check", async () => {
    let calls = 0;
    const server = createServer((req, res) => {
      if (req.url === "/flaky" && ++calls < 2) return void res.writeHead(503).end("warming up");
      res.end(req.url === "/health" ? "ok" : "hello");
    }).listen(0, "127.0.0.1");
    await once(server, "listening");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const said: string[] = [];
      const run = await runChecks(
        url,
        parseChecks(
          '[{"name":"health","path":"/health","body":"ok"},{"name":"flaky","path":"/flaky"},{"name":"wrong","path":"/health","body":"nope"}]',
          "checks",
        ),
        2,
        (l) => said.push(l),
      );
      expect(run.results.slice(0, 2).map((r) => [r.name, r.passed, r.attempts])).toEqual([
        ["health", true, 1],
        ["flaky", true, 2],
      ]);
      expect(run.results[2]).toMatchObject({ name: "wrong", passed: false });
      expect(run.results[2].failure).toBe('body lacks "nope"');
      expect(said).toEqual(run.lines);
      expect(said[1]).toMatch(/^ok {3}GET \/flaky \(flaky\): \d+ ms, 2 attempts$/);
      expect(said[2]).toMatch(/^FAIL GET \/health \(wrong\): body lacks "nope"(, \d+ attempts)?$/);
    } finally {
      server.close();
    }
  });

  it("says why when nothing answers", async () => {
    const server = createServer().listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    server.close();
    await once(server, "close");
    const run = await runChecks(`http://127.0.0.1:${port}`, parseChecks('[{"name":"health","path":"/health"}]', "checks"), 0);
    expect(run.results[0]).toMatchObject({ passed: false, attempts: 1 });
    expect(run.results[0].failure).toMatch(/^no response \(.*ECONNREFUSED/);
  });
});
