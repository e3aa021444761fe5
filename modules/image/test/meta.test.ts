import { describe, expect, it } from "vitest";
import { baseImages, checkRepository, ociLabels, tagsFor } from "../src/meta.ts";

const sha = "0123456789abcdef0123456789abcdef01234567";

describe("image metadata", () => {
  it("tags by full and 12-character SHA, marking uncommitted changes", () => {
    expect(tagsFor({ revision: sha, created: "", source: "", dirty: false })).toEqual([sha, "0123456789ab"]);
    expect(tagsFor({ revision: sha, created: "", source: "", dirty: true })).toEqual([`${sha}-dirty`, "0123456789ab-dirty"]);
    expect(() => tagsFor({ revision: "main", created: "", source: "", dirty: false })).toThrow(/not a full git commit SHA/);
  });

  it("labels with the OCI annotation keys", () => {
    expect(ociLabels({ revision: sha, created: "2026-01-02T03:04:05Z", source: "https://example.com/r.git", dirty: false }, "app")).toEqual({
      "org.opencontainers.image.revision": sha,
      "org.opencontainers.image.created": "2026-01-02T03:04:05Z",
      "org.opencontainers.image.source": "https://example.com/r.git",
      "org.opencontainers.image.title": "app",
    });
  });

  it("accepts registry/path repositories only", () => {
    for (const ok of ["127.0.0.1:5000/node-api", "registry.example.com/team/app", "ghcr.io/a/b-c_d.e", "app"]) expect(checkRepository(ok)).toBe(ok);
    for (const bad of ["Team/App", "r/app:tag", "r/app@sha256:00", "r//app", ""]) expect(() => checkRepository(bad)).toThrow(/invalid image repository/);
  });

  it("finds the base images of a multi-stage Dockerfile, not its stages or scratch", () => {
    const dockerfile = "FROM node:22 AS build\nRUN x\nFROM --platform=linux/amd64 debian:12-slim AS run\nFROM build AS test\nFROM scratch\nfrom node:22\n";
    expect(baseImages(dockerfile)).toEqual(["node:22", "debian:12-slim"]);
  });
});
