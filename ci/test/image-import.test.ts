/**
 * The pure parts of `slipway engine import` and of the missing-image error: what `docker load` said, which names
 * the mirror can take, and the hint a build failure gets. The end-to-end import is in image-sources.test.ts.
 */
import { describe, expect, it } from "vitest";
import { importRefusal, loadedRefs, missingImageHint } from "../platform/images/import.ts";
import { buildError, linesBeforeRun } from "../../modules/image/src/index.ts";

describe("engine import", () => {
  it("reads the names docker load printed; an image saved by ID is refused with how to save it by name", () => {
    expect(loadedRefs("Loaded image: node:12-alpine\nLoaded image: ghcr.io/acme/tool:1\n", "a.tar")).toEqual([
      "node:12-alpine",
      "ghcr.io/acme/tool:1",
    ]);
    expect(() => loadedRefs("Loaded image ID: sha256:0123456789abcdef0123\n", "a.tar")).toThrow(
      /^a\.tar holds an image with no name \(sha256:0123456789ab\): save it by name/,
    );
  });

  it("takes names on the mirrored registries only, never over an image Slipway pins", () => {
    expect(importRefusal("node:12-alpine", {})).toBeUndefined();
    expect(importRefusal("acme/base:1", {})).toBeUndefined();
    expect(importRefusal("ghcr.io/acme/tool:1", {})).toBeUndefined();
    expect(importRefusal("quay.io/acme/tool:1", {})).toMatch(/^quay\.io\/acme\/tool:1 is on quay\.io, which the engine does not resolve/);
    expect(importRefusal("localhost:5000/x:1", {})).toMatch(/is on localhost:5000/);
    expect(importRefusal("node:22", { "library/node:22": "sha256:1" })).toMatch(/^node:22 is an image Slipway builds and pins itself/);
    expect(importRefusal("node@sha256:00", {})).toMatch(/digest reference/);
  });

  it("a build whose base image no registry serves gets the import command; other failures get none", () => {
    const msg =
      "docker build of Dockerfile failed: its base image node:12-alpine is not found (resolve source metadata for docker.io/library/node:12-alpine: not found): no registry the engine reaches serves it";
    expect(missingImageHint(msg)).toMatch(
      /^no registry but the local mirror is reachable, and it does not serve node:12-alpine; it serves .*: save it where it can be pulled \(`docker save -o image\.tar node:12-alpine`\), then `slipway engine import image\.tar`$/,
    );
    expect(missingImageHint("lint: failed, 2 error(s)")).toBeUndefined();
    expect(missingImageHint("failed to resolve source metadata for docker.io/docker/dockerfile:1: not found")).toBeUndefined();
  });
});

describe("image build errors", () => {
  it("a failed RUN step: the step and its last output lines", () => {
    const err = Object.assign(new Error('process "/bin/sh -c yarn run build" did not complete successfully: exit code: 1'), {
      cmd: ["/bin/sh", "-c", "yarn run build"],
      exitCode: 1,
      stdout: "yarn run v1.22.22\n",
      stderr: 'error Command "build" not found.\ninfo Visit https://yarnpkg.com/en/docs/cli/run for documentation about this command.\n',
    });
    expect(buildError(err, "Dockerfile")).toBe(
      'docker build of Dockerfile failed at RUN yarn run build (exit code 1); its last output:\nyarn run v1.22.22\nerror Command "build" not found.\ninfo Visit https://yarnpkg.com/en/docs/cli/run for documentation about this command.',
    );
  });

  it("a base image not found names the import command", () => {
    const err = new Error(
      "failed to resolve source metadata for docker.io/library/node:12-alpine: docker.io/library/node:12-alpine: not found",
    );
    expect(buildError(err, "Dockerfile")).toMatch(
      /^docker build of Dockerfile failed: its base image node:12-alpine is not found .*`slipway engine import FILE`/,
    );
  });

  it("finds the failed RUN instruction (continuation lines joined, flags skipped) and keeps what precedes it", () => {
    const dockerfile =
      'FROM node:22\nWORKDIR /app\nRUN --mount=type=cache,target=/c npm ci \\\n    --omit=dev\nRUN yarn run build\nCMD ["node"]\n';
    expect(linesBeforeRun(dockerfile, "npm ci --omit=dev")).toBe("FROM node:22\nWORKDIR /app\n");
    expect(linesBeforeRun(dockerfile, "yarn run build")).toBe(
      "FROM node:22\nWORKDIR /app\nRUN --mount=type=cache,target=/c npm ci \\\n    --omit=dev\n",
    );
    expect(linesBeforeRun(dockerfile, "make")).toBeUndefined();
  });
});
