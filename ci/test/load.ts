/**
 * A loopback load generator: `concurrency` clients each sending GET requests back to back (keep-alive) until
 * stopped. Counts requests sent and failed ones (a non-2xx status or no response), with the first few failures.
 */
import { Agent, request } from "node:http";

export interface LoadReport {
  sent: number;
  failed: number;
  statuses: Record<string, number>;
  samples: string[];
}

export function startLoad(url: string, concurrency = 4): { stop: () => Promise<LoadReport> } {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const report: LoadReport = { sent: 0, failed: 0, statuses: {}, samples: [] };
  let running = true;
  const once = () =>
    new Promise<void>((resolve) => {
      report.sent++;
      const fail = (why: string) => {
        report.failed++;
        if (report.samples.length < 5) report.samples.push(why);
      };
      const req = request(url, { agent, timeout: 10_000 }, (res) => {
        res.resume();
        res.on("end", () => {
          const s = String(res.statusCode);
          report.statuses[s] = (report.statuses[s] ?? 0) + 1;
          if ((res.statusCode ?? 0) >= 300) fail(`status ${s}`);
          resolve();
        });
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (err) => {
        fail(err.message);
        resolve();
      });
      req.end();
    });
  const clients = Array.from({ length: concurrency }, async () => {
    while (running) await once();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(clients);
      agent.destroy();
      return report;
    },
  };
}
