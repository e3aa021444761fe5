/**
 * Module mode, as users type it: the stock Dagger CLI loads Slipway's modules through the engine's TypeScript SDK
 * (offline, Slipway's own runtime in the engine's content store; online, Dagger's) and calls them.
 */
import { once } from "node:events";
import { appendFileSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { $ } from "zx";
import { describe, expect, it } from "vitest";
import { DAGGER_CLI } from "../platform/dagger.ts";
import { localRegistryCredentials } from "../platform/registry.ts";
import { copyExample, EXAMPLE, ROOT, run, slipway, tempDir } from "./helpers.ts";

/** The Dagger CLI as a user runs it: stdout is the result, stderr the progress. */
const dagger = (cwd: string, ...args: string[]) =>
  run(DAGGER_CLI, args, {
    cwd,
    timeout: 1_200_000,
    // the local registry's push password, for with-registry --password=env:SLIPWAY_MODULE_REGISTRY_PASSWORD
    env: { ...process.env, NO_COLOR: "1", SLIPWAY_MODULE_REGISTRY_PASSWORD: localRegistryCredentials()?.password ?? "" },
  });

/** A clean clone of this checkout (what `dagger -m <git checkout>` of someone else's machine sees). */
async function cleanClone(): Promise<string> {
  const dir = join(tempDir("clone"), "slipway");
  await $({ quiet: true })`git clone --quiet ${ROOT} ${dir}`;
  return dir;
}

const PASSWORD = "module-mode-test";
const REGISTRY = process.env.SLIPWAY_REGISTRY!;
const REGISTRY_SERVICE = `tcp://localhost:${REGISTRY.split(":")[1]}`;

/** A fresh cosign key pair from the sign module, exported to the host: the directory holding cosign.key and cosign.pub. */
async function keyPair(): Promise<string> {
  process.env.SLIPWAY_MODULE_TEST_PASSWORD = PASSWORD;
  const keys = tempDir("module-keys");
  const r = await dagger(
    ROOT,
    "-m",
    "modules/sign",
    "call",
    "generate-key-pair",
    "--password=env:SLIPWAY_MODULE_TEST_PASSWORD",
    "directory",
    "--path=/keys",
    "export",
    `--path=${keys}`,
  );
  expect(r.code, r.out).toBe(0);
  return keys;
}

interface Report {
  status: string;
  stages: { stage: string; status: string }[];
}
const outcomes = (dir: string) =>
  Object.fromEntries((JSON.parse(readFileSync(join(dir, "pipeline.json"), "utf8")) as Report).stages.map((s) => [s.stage, s.status]));

describe("module mode: dagger functions, call and check on the real engine", () => {
  it("the root module loads and lists its stages; dagger check runs Slipway's checks on Slipway", async () => {
    const fns = await dagger(ROOT, "functions");
    expect(fns.code, fns.out).toBe(0);
    for (const fn of ["lint", "typecheck", "test", "integration", "pipeline"]) expect(fns.stdout).toMatch(new RegExp(`^${fn}\\s`, "m"));
    const check = await dagger(ROOT, "check");
    expect(check.code, check.out).toBe(0);
    for (const fn of ["lint", "typecheck", "test", "integration"]) expect(check.out).toContain(fn);
  }, 900_000); // the root module and every module it installs loaded by the TypeScript runtime, then four checks: 5 min and more on a cold engine cache

  it("every module under modules/ loads on its own and answers a real call", async () => {
    const modules = (await $({ cwd: ROOT, quiet: true })`ls modules`).stdout.trim().split("\n");
    for (const name of modules) {
      const fns = await dagger(ROOT, "-m", `modules/${name}`, "functions");
      expect(fns.code, `${name}: ${fns.out}`).toBe(0);
    }
    const call = async (name: string, ...args: string[]) => {
      const r = await dagger(ROOT, "-m", `modules/${name}`, "call", ...args);
      expect(r.code, `${name}: ${r.out}`).toBe(0);
      return r.stdout.trim();
    };
    expect(await call("node", "lint", `--source=${EXAMPLE}`, "status")).toBe("passed");
    expect(await call("testcontainers", "under-harness", "--reports=/r", "--command=npm,test")).toContain("npm");
    expect(
      await call(
        "image",
        "with-commit",
        "--revision=0123456789abcdef0123456789abcdef01234567",
        "--created=2026-11-01T00:00:00Z",
        "--source-url=https://example.com/node-api",
        "build",
        `--source=${EXAMPLE}`,
        "label",
        "--name=org.opencontainers.image.revision",
      ),
    ).toBe("0123456789abcdef0123456789abcdef01234567");
    expect((await call("sbom", "generate", "--target=debian:bookworm-slim", "entries")).split("\n").sort()).toEqual([
      "sbom.cdx.json",
      "sbom.spdx.json",
    ]);
    expect(await call("scan", "secrets", `--source=${EXAMPLE}`, "status")).toBe("passed");
    const keys = await keyPair();
    expect(readFileSync(join(keys, "cosign.pub"), "utf8")).toContain("PUBLIC KEY");
    // deploy reaches sign through dag: an image nobody signed is refused before anything else happens
    const head = await fetch(`http://${REGISTRY}/v2/library/debian/manifests/bookworm-slim`, {
      method: "HEAD",
      headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json" },
    });
    const unsigned = `${REGISTRY}/library/debian@${head.headers.get("docker-content-digest")}`;
    const refused = await call(
      "deploy",
      "environment",
      "--name=staging",
      "--app=node-api",
      "with-gitops",
      "--remote=https://git.example.invalid/manifests.git",
      "with-registry",
      `--registry=${REGISTRY_SERVICE}`,
      "deploy",
      `--image=${unsigned}`,
      `--public-key=${join(keys, "cosign.pub")}`,
      "--revision=0123456",
      "message",
    );
    expect(refused).toMatch(/^deploy staging: refused, .*signature.*nothing changed on staging$/i);
    // an SSH Docker host and Prometheus gates, as a module-mode caller spells them; the key is a Secret, in no setting
    const secrets = tempDir("ssh");
    writeFileSync(join(secrets, "key"), "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key-7f3a\n-----END OPENSSH PRIVATE KEY-----\n");
    writeFileSync(join(secrets, "known_hosts"), "203.0.113.10 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJq\n");
    const settings = await call(
      "deploy",
      "environment",
      "--name=remote",
      "--app=node-api",
      "with-ssh-host",
      "--host=ssh://deploy@203.0.113.10",
      `--key=file:${join(secrets, "key")}`,
      `--known-hosts=file:${join(secrets, "known_hosts")}`,
      "--listen=203.0.113.10:18090",
      "--app-port=19000",
      "with-prometheus-gates",
      "--max-latency=0.25",
      "settings",
    );
    expect(JSON.parse(settings)).toMatchObject({ listen: "203.0.113.10:18090", appPort: 19000, metrics: { maxP99Seconds: 0.25 } });
    expect(settings).not.toContain("not-a-real-key");
    // smoke checks an app on this host's loopback through a tunnel
    const app = createServer((_req, res) => res.end("ok")).listen(0, "127.0.0.1");
    await once(app, "listening");
    const port = (app.address() as AddressInfo).port;
    try {
      expect(
        await call(
          "smoke",
          "run",
          `--url=http://127.0.0.1:${port}`,
          `--checks=[{"name":"home","path":"/","body":"ok"}]`,
          `--target=tcp://localhost:${port}`,
          "status",
        ),
      ).toBe("passed");
    } finally {
      app.close();
    }
  }, 900_000); // every module loaded by the TypeScript runtime: minutes on a busy 2-core machine

  it("dagger -m <clean clone> call test --source=<a project outside the repository> passes", async () => {
    const clone = await cleanClone();
    const project = copyExample(tempDir("outside"));
    const r = await dagger(tempDir("elsewhere"), "-m", clone, "call", "test", `--source=${project}`);
    expect(r.code, r.out).toBe(0);
    expect(r.stdout).toMatch(/^test: passed/m);
  });

  it("a project's own module (dagger init, dagger install) runs Slipway's checks and calls modules/node; a lint error fails naming file:line", async () => {
    // a local dependency must sit in the same repository as the module installing it (Dagger's rule): the copy
    // of the example lives in a clone of Slipway; from elsewhere, `dagger install` takes Slipway's git address
    const app = copyExample(join(await cleanClone(), "app"));
    writeFileSync(join(app, "LICENSE"), "Example application\n"); // else `dagger init` fetches a license text from spdx.org
    for (const args of [
      ["init", "--sdk=typescript", "--name=app", "--source=.dagger"],
      ["install", ".."],
      ["install", "../modules/node"],
    ]) {
      const r = await dagger(app, ...args);
      expect(r.code, `dagger ${args.join(" ")}: ${r.out}`).toBe(0);
    }
    copyFileSync(join(ROOT, "ci/test/fixtures/app-module/index.ts"), join(app, ".dagger/src/index.ts"));
    // offline, the integration check's Docker engine pulls postgres:15 through the local mirror (a user default)
    appendFileSync(join(app, ".env"), `INTEGRATION_REGISTRYMIRROR=${REGISTRY_SERVICE}\n`);
    const own = await dagger(app, "call", "unit-tests");
    expect(own.code, own.out).toBe(0);
    expect(own.stdout).toMatch(/^passed: test: passed \(\d+ tests, 0 failed/m);
    const list = await dagger(app, "check", "-l");
    for (const c of ["lint", "typecheck", "test", "integration"]) expect(list.stdout).toMatch(new RegExp(`^${c}\\s`, "m"));
    const check = await dagger(app, "check");
    expect(check.code, check.out).toBe(0);
    appendFileSync(join(app, "src/config.ts"), "\nconst unusedValue = 1;\n");
    const failed = await dagger(app, "check", "lint");
    expect(failed.code).not.toBe(0);
    expect(failed.out).toMatch(/lint: failed, 1 error\(s\): src\/config\.ts:\d+:\d+ 'unusedValue' is assigned a value but never used/);
  }, 600_000); // a new module generated and loaded, then two checks

  it("dagger call pipeline returns the reports with the stage outcomes of slipway pipeline --until verify", async () => {
    const keys = await keyPair();
    const db = tempDir("module-vuln-db");
    const built = await dagger(
      ROOT,
      "-m",
      "modules/scan",
      "call",
      "database",
      `--advisories=${join(ROOT, "ci/test/fixtures/osv")}`,
      "--scanner=trivy",
      "export",
      `--path=${db}`,
    );
    expect(built.code, built.out).toBe(0);
    const revision = (await $({ cwd: ROOT, quiet: true })`git rev-parse HEAD`).stdout.trim();
    const moduleReports = tempDir("module-pipeline");
    const r = await dagger(
      ROOT,
      "call",
      "with-registry",
      `--repository=${REGISTRY}/module-mode/node-api`,
      `--registry=${REGISTRY_SERVICE}`,
      `--registry-mirror=${REGISTRY_SERVICE}`,
      "--username=slipway",
      "--password=env:SLIPWAY_MODULE_REGISTRY_PASSWORD",
      "with-signing-key",
      `--key=file:${join(keys, "cosign.key")}`,
      "--password=env:SLIPWAY_MODULE_TEST_PASSWORD",
      "with-commit",
      `--revision=${revision}`,
      "--created=2026-11-01T00:00:00Z",
      "--source-url=https://example.com/slipway/node-api",
      "with-scan-policy",
      `--vuln-db=${db}`,
      "pipeline",
      `--source=${EXAMPLE}`,
      "export",
      `--path=${moduleReports}`,
    );
    expect(r.code, r.out).toBe(0);
    const clientReports = tempDir("client-pipeline");
    // a repository of its own: the targets lane signs the example's image in node-api meanwhile, and two signers of one
    // digest race on its attestation manifest
    const c = await slipway(
      "pipeline",
      "--source",
      EXAMPLE,
      "--until",
      "verify",
      "--repository",
      `${REGISTRY}/module-mode-client/node-api`,
      "--reports",
      clientReports,
    );
    expect(c.code, c.out).toBe(0);
    const stages = outcomes(moduleReports);
    expect(Object.keys(stages)).toEqual(["lint", "typecheck", "test", "integration", "build", "sbom", "scan", "secrets", "sign", "verify"]);
    expect(Object.values(stages).every((s) => s === "passed")).toBe(true);
    // the CLI's report also lists the deploy and smoke stages, which --until verify skips
    const client = outcomes(clientReports);
    expect(Object.fromEntries(Object.keys(stages).map((s) => [s, client[s]]))).toEqual(stages);
    expect(
      Object.entries(client)
        .filter(([s]) => !(s in stages))
        .every(([, status]) => status === "skipped"),
    ).toBe(true);
  }, 900_000); // a module-mode and a client-mode pipeline through verify
});
