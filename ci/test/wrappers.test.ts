/**
 * The CI wrappers, proven for real: actionlint (built from the Go module proxy by `engine up`) on the GitHub
 * workflow; gitlab-ci-local (npm) running the GitLab wrapper's pipeline job in shell mode against the local engine.
 */
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { describe, expect, it } from "vitest";
import { aptInstall, paths } from "../platform/host.ts";
import { DAGGER_VERSION, GO_TOOLS } from "../platform/versions.ts";
import { RUNNER_HOST } from "../platform/engine.ts";
import { ROOT, tempDir } from "./helpers.ts";

const ACTIONLINT = join(paths.cache, "tools", `actionlint-${GO_TOOLS.actionlint.version}`, "actionlint");
const WORKFLOW = join(ROOT, ".github/workflows/pipeline.yml");

describe("GitHub Actions wrapper", () => {
  it("actionlint passes on the workflow, and fails on a broken copy", async () => {
    const ok = await $({ cwd: ROOT, nothrow: true, quiet: true })`${ACTIONLINT} -color=false ${WORKFLOW}`;
    expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0);
    const text = readFileSync(WORKFLOW, "utf8");
    // the Dagger action pinned by a full commit SHA, least-privilege permissions, a production environment
    expect(text).toMatch(/uses: dagger\/dagger-for-github@[0-9a-f]{40} # v\d+\.\d+\.\d+/);
    expect(text).toMatch(/^permissions:\n {2}contents: read$/m);
    expect(text).toMatch(/environment:\n\s+name: production/);
    const broken = join(tempDir("workflow"), "pipeline.yml");
    writeFileSync(broken, text.replace("needs.pipeline.outputs.image", "needs.pipline.outputs.image"));
    const bad = await $({ nothrow: true, quiet: true })`${ACTIONLINT} -color=false ${broken}`;
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toMatch(/pipline/);
  });
});

describe("GitLab CI wrapper", () => {
  it("gitlab-ci-local runs the pipeline job in shell mode against the local engine, with its report artifacts", async () => {
    await aptInstall("gitlab-ci-local", ["rsync"], () => undefined); // it copies the project with rsync
    // the repository as committed plus what is not ignored, as its own git work tree (gitlab-ci-local reads git)
    const work = tempDir("gitlab");
    await $({
      cwd: ROOT,
      quiet: true,
    })`git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C ${work}`;
    await $({ cwd: work, quiet: true })`git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm wrapper`;
    // the wrapper's dind service, from the mirror into the host's Docker under its own name
    await $({
      quiet: true,
    })`docker pull -q 127.0.0.1:5000/library/docker:20.10-dind && docker tag 127.0.0.1:5000/library/docker:20.10-dind docker:20.10-dind`;
    const bin = join(paths.cache, "dagger", DAGGER_VERSION, "bin");
    const args = [
      "--force-shell-executor",
      "--privileged",
      "--pull-policy",
      "if-not-present",
      "--variable",
      "SLIPWAY_DIND_IMAGE=docker:20.10-dind",
      "--variable",
      "DOCKER_HOST=unix:///var/run/docker.sock",
      "--variable",
      `PATH=${bin}:${process.env.PATH}`,
      "--variable",
      // engine.env's setting (through `docker exec`), as a CI job that loads engine.env has it
      `_EXPERIMENTAL_DAGGER_RUNNER_HOST=${RUNNER_HOST}`,
      "pipeline",
    ];
    const r = await $({ cwd: work, nothrow: true, quiet: true })`${join(ROOT, "node_modules/.bin/gitlab-ci-local")} ${args}`;
    const out = r.stdout + r.stderr;
    expect(r.exitCode, out.slice(-3000)).toBe(0);
    expect(out).toMatch(/PASS\s+pipeline/);
    expect(out).toMatch(/\| smoke-staging \| ✅ passed/);
    for (const f of [
      "reports/junit.xml",
      "reports/sbom/sbom.cdx.json",
      "reports/scan/gl-container-scanning-report.json",
      "reports/pipeline.json",
    ]) {
      expect(existsSync(join(work, f)), f).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(work, "reports/scan/gl-container-scanning-report.json"), "utf8")).scan.type).toBe(
      "container_scanning",
    );
  });
});
