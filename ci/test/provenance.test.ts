import { describe, expect, it } from "vitest";
import { BUILD_TYPE, provenance } from "../src/provenance.ts";

describe("SLSA provenance v1", () => {
  it("names the builder, the source commit and the base images by digest", () => {
    const p = provenance({
      image: "r/app@sha256:aa",
      sourceUrl: "https://example.com/app.git",
      revision: "0123456789abcdef0123456789abcdef01234567",
      dockerfile: "Dockerfile",
      baseImages: ["node:22-bookworm-slim@sha256:" + "b".repeat(64)],
      builder: "https://slipway.dev/builder/dagger@v0.19.10",
      startedOn: "2026-11-22T00:00:00Z",
      finishedOn: "2026-11-22T00:01:00Z",
      invocationId: "x",
    }) as { buildDefinition: { buildType: string; resolvedDependencies: unknown[] }; runDetails: { builder: { id: string } } };
    expect(p.buildDefinition.buildType).toBe(BUILD_TYPE);
    expect(p.buildDefinition.resolvedDependencies).toEqual([
      {
        uri: "git+https://example.com/app.git@0123456789abcdef0123456789abcdef01234567",
        digest: { gitCommit: "0123456789abcdef0123456789abcdef01234567" },
      },
      { uri: "pkg:docker/node%3A22-bookworm-slim", digest: { sha256: "b".repeat(64) } },
    ]);
    expect(p.runDetails.builder.id).toBe("https://slipway.dev/builder/dagger@v0.19.10");
  });

  it("refuses a base image without a digest", () => {
    expect(() =>
      provenance({
        image: "",
        sourceUrl: "",
        revision: "",
        dockerfile: "",
        baseImages: ["node:22"],
        builder: "",
        startedOn: "",
        finishedOn: "",
        invocationId: "",
      }),
    ).toThrow(/has no digest/);
  });
});
