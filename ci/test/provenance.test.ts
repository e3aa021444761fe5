import { describe, expect, it } from "vitest";
import { BUILD_TYPE, provenance, publicUrl } from "../src/provenance.ts";
import { publicUrl as labelUrl } from "../../modules/image/src/meta.ts";

const INPUT = {
  image: "r/app@sha256:aa",
  sourceUrl: "https://example.com/app.git",
  revision: "0123456789abcdef0123456789abcdef01234567",
  dockerfile: "Dockerfile",
  baseImages: [],
  builder: "b",
  startedOn: "",
  finishedOn: "",
  invocationId: "x",
};

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

  it("publishes the source URL without credentials, query or fragment", () => {
    const cases: [string, string][] = [
      ["https://u:TOKEN@host/r.git", "https://host/r.git"],
      ["https://TOKEN@github.com/o/r.git", "https://github.com/o/r.git"],
      ["https://u:p@ss@host:8443/r.git?token=TOKEN#TOKEN", "https://host:8443/r.git"],
      ["ssh://git@host/r.git", "ssh://host/r.git"],
      ["git@github.com:o/r.git", "git@github.com:o/r.git"],
      ["file:///work/repo", "file:///work/repo"],
      ["  https://host/r.git\n", "https://host/r.git"],
      ["", ""],
    ];
    for (const [url, out] of cases) {
      expect(publicUrl(url), url).toBe(out);
      expect(labelUrl(url), url).toBe(out); // the image module's copy of the rule (it imports nothing from ci/)
    }
    const p = JSON.stringify(provenance({ ...INPUT, sourceUrl: "https://u:TOKEN@host/r.git?x=TOKEN" }));
    expect(p).not.toContain("TOKEN");
    expect(p).toContain('"source":"https://host/r.git"');
    expect(p).toContain('"uri":"git+https://host/r.git@0123456789abcdef0123456789abcdef01234567"');
  });

  it("says whether the source was dirty: in externalParameters and on the source dependency", () => {
    type P = { buildDefinition: { externalParameters: { dirty: boolean }; resolvedDependencies: { annotations?: object }[] } };
    const clean = provenance(INPUT) as P;
    expect(clean.buildDefinition.externalParameters.dirty).toBe(false);
    expect(clean.buildDefinition.resolvedDependencies[0].annotations).toBeUndefined();
    const dirty = provenance({ ...INPUT, dirty: true }) as P;
    expect(dirty.buildDefinition.externalParameters.dirty).toBe(true);
    expect(dirty.buildDefinition.resolvedDependencies[0].annotations).toMatchObject({ dirty: true });
  });
});
