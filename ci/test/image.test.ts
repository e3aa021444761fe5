/** Build once and publish by digest, on the real engine and the local registry, through the slipway CLI. */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { describe, expect, it } from "vitest";
import { copyExample, EXAMPLE, slipway, tempDir } from "./helpers.ts";

const REGISTRY = "http://127.0.0.1:5000";
const MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/** The digest the registry serves for a tag, and that manifest's image config. */
async function resolveTag(
  repo: string,
  tag: string,
): Promise<{ digest: string; config: { created: string; history: { created: string }[]; config: { Labels: Record<string, string> } } }> {
  const r = await fetch(`${REGISTRY}/v2/${repo}/manifests/${tag}`, { headers: { Accept: MANIFEST_TYPES } });
  expect(r.status).toBe(200);
  const manifest = await r.json();
  const config = await (await fetch(`${REGISTRY}/v2/${repo}/blobs/${manifest.config.digest}`)).json();
  return { digest: r.headers.get("docker-content-digest")!, config };
}

/** A copy of the example outside any git repository. */
function untracked(): string {
  const dir = copyExample(tempDir("nogit"));
  return dir;
}

describe("slipway publish", () => {
  it("pushes the example tagged by full and short commit SHA, labelled and dated from the commit; a rebuild has the same digest", async () => {
    const git = $({ cwd: EXAMPLE, quiet: true });
    const sha = (await git`git rev-parse HEAD`).stdout.trim();
    const created = (await git`git log -1 --format=%cI`).stdout.trim();
    const suffix = (await git`git status --porcelain -- .`).stdout.trim() ? "-dirty" : "";

    const first = await slipway("publish", "--source", EXAMPLE);
    expect(first.code).toBe(0);
    const m = /^publish: 127\.0\.0\.1:5000\/node-api@(sha256:[0-9a-f]{64}) \(tags (\S+), (\S+)\)/m.exec(first.out);
    expect(m, first.out).not.toBeNull();
    expect([m![2], m![3]]).toEqual([sha + suffix, sha.slice(0, 12) + suffix]);
    for (const tag of [sha + suffix, sha.slice(0, 12) + suffix]) {
      const { digest, config } = await resolveTag("node-api", tag);
      expect(digest).toBe(m![1]);
      expect(config.config.Labels).toMatchObject({
        "org.opencontainers.image.revision": sha,
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.title": "node-api",
      });
      // reproducible: the image's times are the commit's, not the build's (ci/test/reproducible.test.ts builds it cold)
      const time = new Date(created).toISOString().replace(/\.000Z$/, "Z");
      expect(config.created).toBe(time);
      expect(config.history.map((h) => h.created)).toEqual(config.history.map(() => time));
    }
    const again = await slipway("publish", "--source", EXAMPLE);
    expect(again.out).toContain(`@${m![1]} `);
  });

  it("refuses a source with no commit unless told otherwise", async () => {
    const dir = untracked();
    const refused = await slipway("publish", "--source", dir);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(
      /^slipway: the source has no git commit, so the image cannot be tagged by SHA: commit it, or pass --allow-no-commit$/m,
    );
    const allowed = await slipway("publish", "--source", dir, "--repository", "127.0.0.1:5000/scratch/no-commit", "--allow-no-commit");
    expect(allowed.code).toBe(0);
    expect(allowed.out).toMatch(/^publish: 127\.0\.0\.1:5000\/scratch\/no-commit@sha256:[0-9a-f]{64} \(tags no-commit-[0-9a-f]{12}\)/m);
  });

  it("names the fix for a missing Dockerfile, an invalid repository and a registry that does not answer", async () => {
    const dir = untracked();
    rmSync(join(dir, "Dockerfile"));
    const missing = await slipway("publish", "--source", dir, "--allow-no-commit");
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/^slipway: no Dockerfile in the source: add one, or pass --dockerfile PATH \(relative to the source\)$/m);
    const invalid = await slipway("publish", "--source", EXAMPLE, "--repository", "Bad/Repo:tag");
    expect(invalid.code).toBe(1);
    expect(invalid.out).toMatch(/^slipway: invalid image repository "Bad\/Repo:tag": expected registry\/path without tag or digest/m);
    // nothing listens on 5999: the push's first contact with the registry fails, in one line
    const unreachable = await slipway("publish", "--source", EXAMPLE, "--repository", "127.0.0.1:5999/team/node-api");
    expect(unreachable.code).toBe(1);
    expect(unreachable.out).toMatch(
      /^slipway: push to 127\.0\.0\.1:5999\/team\/node-api failed, 127\.0\.0\.1:5999 does not answer \(.+\): check that the registry runs and this host reaches it$/m,
    );
  });
});
