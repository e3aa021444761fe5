import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { baseImages, buildTime, checkRepository, finalBaseImage, ociLabels, pushError, tagsFor, withoutCacheHistory } from "../src/meta.ts";

const sha = "0123456789abcdef0123456789abcdef01234567";

describe("image metadata", () => {
  it("tags by full and 12-character SHA, marking uncommitted changes", () => {
    expect(tagsFor({ revision: sha, created: "", source: "", dirty: false })).toEqual([sha, "0123456789ab"]);
    expect(tagsFor({ revision: sha, created: "", source: "", dirty: true })).toEqual([`${sha}-dirty`, "0123456789ab-dirty"]);
    expect(() => tagsFor({ revision: "main", created: "", source: "", dirty: false })).toThrow(/not a full git commit SHA/);
  });

  it("labels with the OCI annotation keys", () => {
    expect(ociLabels({ revision: sha, created: "2026-01-02T03:04:05Z", source: "https://example.com/r.git", dirty: false }, "app")).toEqual(
      {
        "org.opencontainers.image.revision": sha,
        "org.opencontainers.image.created": "2026-01-02T03:04:05Z",
        "org.opencontainers.image.source": "https://example.com/r.git",
        "org.opencontainers.image.title": "app",
      },
    );
  });

  it("accepts registry/path repositories only", () => {
    for (const ok of ["127.0.0.1:5000/node-api", "registry.example.com/team/app", "ghcr.io/a/b-c_d.e", "app"])
      expect(checkRepository(ok)).toBe(ok);
    for (const bad of ["Team/App", "r/app:tag", "r/app@sha256:00", "r//app", ""])
      expect(() => checkRepository(bad)).toThrow(/invalid image repository/);
  });

  it("finds the base images of a multi-stage Dockerfile, not its stages or scratch", () => {
    const dockerfile =
      "FROM node:22 AS build\nRUN x\nFROM --platform=linux/amd64 debian:12-slim AS run\nFROM build AS test\nFROM scratch\nfrom node:22\n";
    expect(baseImages(dockerfile)).toEqual(["node:22", "debian:12-slim"]);
  });

  it("takes the build's clock from the commit time: the same instant in any offset, whole seconds, the epoch 0 with no commit", () => {
    const utc = { epoch: 1782941411, rfc3339: "2026-07-01T21:30:11Z" };
    expect(buildTime("2026-07-01T17:30:11-04:00")).toEqual(utc);
    expect(buildTime("2026-07-01T21:30:11Z")).toEqual(utc);
    expect(buildTime("2026-07-01T23:30:11.999+02:00")).toEqual(utc);
    expect(buildTime("")).toEqual({ epoch: 0, rfc3339: "1970-01-01T00:00:00Z" });
    for (const bad of ["yesterday", "2026-07-01", "2026-07-01 17:30:11", "1969-12-31T23:59:59Z"]) {
      expect(() => buildTime(bad), bad).toThrow(/is not a commit time in RFC 3339 .*git log -1 --format=%cI/);
    }
  });

  it("finds the image the last stage starts from, through stages and global ARG defaults", () => {
    expect(finalBaseImage("FROM node:22 AS build\nRUN x\nFROM node:22-bookworm-slim\nCOPY --from=build /a /a\n")).toBe(
      "node:22-bookworm-slim",
    );
    expect(finalBaseImage("FROM debian:12 AS base\nFROM base AS run\nfrom RUN\n")).toBe("debian:12");
    expect(finalBaseImage("ARG NODE=22\nARG REG\nFROM --platform=linux/amd64 node:${NODE}-slim\n")).toBe("node:22-slim");
    expect(finalBaseImage("FROM golang:1.26 AS build\nFROM scratch\n")).toBe("scratch");
    expect(finalBaseImage("ARG BASE\nFROM $BASE\n")).toBeUndefined();
    expect(finalBaseImage("# no FROM at all\n")).toBeUndefined();
  });

  it("leaves the cache-dependent layer descriptions out of the history; the manifest points at the new config", () => {
    const config = JSON.stringify({
      created: "2026-07-01T21:30:11Z",
      architecture: "amd64",
      history: [
        {
          created: "2026-07-01T21:30:11Z",
          created_by: "pulled from docker.io/library/node:22@sha256:ab",
          comment: "buildkit.exporter.image.v0",
        },
        { created: "2026-07-01T21:30:11Z", created_by: "[build 2/7] WORKDIR /app", comment: "buildkit.exporter.image.v0" },
      ],
    });
    const manifest = JSON.stringify({
      schemaVersion: 2,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: "sha256:00", size: 1 },
      layers: [],
    });
    const out = withoutCacheHistory(manifest, config);
    const sha = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;
    expect(JSON.parse(out.config).history).toEqual([
      { created: "2026-07-01T21:30:11Z", comment: "buildkit.exporter.image.v0" },
      { created: "2026-07-01T21:30:11Z", comment: "buildkit.exporter.image.v0" },
    ]);
    expect(out.configDigest).toBe(sha(out.config));
    expect(JSON.parse(out.manifest).config).toEqual({
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: out.configDigest,
      size: Buffer.byteLength(out.config),
    });
    expect(out.digest).toBe(sha(out.manifest));
    // the same documents give the same bytes: two builds that differ only in the descriptions meet
    const other = config.replace("[build 2/7] WORKDIR /app", "[stage-1 2/5] WORKDIR /app").replace("node:22@", "node:22-bookworm-slim@");
    expect(withoutCacheHistory(manifest, other)).toEqual(out);
  });

  it("says which push step failed, with regctl's error and the fix, naming the repository as the user wrote it", () => {
    const target = "registry:5000/team/app";
    expect(
      pushError(
        'time="..." level=warn msg="ping failed"\nfailed to ping registry registry:5000: EOF\nslipway-failed: configure\n',
        "127.0.0.1:5000/team/app",
        target,
      ),
    ).toBe(
      "push to 127.0.0.1:5000/team/app failed, 127.0.0.1:5000 does not answer (failed to ping registry registry:5000: EOF): check that the registry runs and this host reaches it",
    );
    expect(pushError("Error: unauthorized\nslipway-failed: login\n", "ghcr.io/team/app", "ghcr.io/team/app")).toBe(
      "login to ghcr.io failed (unauthorized): check the credentials (--username, --password)",
    );
    expect(pushError(`Error: blob upload unknown\nslipway-failed: push ${target}:0123456789ab\n`, "127.0.0.1:5000/team/app", target)).toBe(
      "push to 127.0.0.1:5000/team/app:0123456789ab failed (blob upload unknown): check that the registry is reachable and the credentials (--username, --password) are right",
    );
    expect(pushError("killed\n", "127.0.0.1:5000/team/app", target)).toMatch(/^push to 127\.0\.0\.1:5000\/team\/app failed \(killed\)/);
  });
});
