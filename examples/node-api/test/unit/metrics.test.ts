import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { addMetrics } from "../../src/metrics.js";

describe("/metrics", () => {
  it("counts each request by route and status in http_request_duration_seconds", async () => {
    const app = Fastify();
    addMetrics(app);
    app.get("/boom", async (_req, reply) => reply.code(500).send({ error: "boom" }));
    await app.inject({ url: "/boom" });
    await app.inject({ url: "/boom" });
    const res = await app.inject({ url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toMatch(/^http_request_duration_seconds_count\{method="GET",route="\/boom",status_code="500"\} 2$/m);
    expect(res.body).toMatch(/^http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/boom",status_code="500"\} 2$/m);
    expect(res.body).toContain("process_cpu_user_seconds_total");
  });
});
