/**
 * Deploy a verified image. Target "docker host": a Docker engine (DOCKER_HOST) with HAProxy in front; strategies
 * rolling, blue-green and canary, each traffic step gated on health and error rate over a window, the previous
 * version serving until the new one is proven, automatic rollback, and `rollback` to the last good version.
 * Target "gitops": the digest written into a kustomization's images, committed naming the commit SHA, pushed.
 * Every function verifies the image's signature and attestations first and is never served from cache.
 */
import { dag, type Container, type Directory, File, func, object, ReturnType, Secret, Service } from "@dagger.io/dagger";
import { readFileSync } from "node:fs";
import { StageResult } from "./result.ts";
import { deps } from "./deps.ts";
import type { DeploySettings } from "./plan.ts";
import { setKustomizeImage } from "./kustomize.ts";

export * from "./plan.ts";
export { setKustomizeImage } from "./kustomize.ts";

/** The image the controller and git run in (node and git; served by the mirror offline). */
export const NODE_IMAGE = "node:22-bookworm-slim";
const CONTROLLER_DIR = "/opt/slipway/deploy";

@object()
export class Deploy {
  @func() image: string;

  constructor(image: string = NODE_IMAGE) {
    this.image = image;
  }

  /**
   * Deploys image (repository@sha256:...) to a Docker host. docker: the target's Docker API (tcp); proxyAdmin:
   * HAProxy's runtime API on the target; settings: DeploySettings as JSON (without image); secrets: the values of
   * settings.secretNames, in order; registry: a tunnel for images on the caller's loopback registry (verification).
   */
  @func({ cache: "never" })
  async dockerHost(image: string, publicKey: File, docker: Service, proxyAdmin: Service, settings: string, secrets: Secret[] = [], registry?: Service): Promise<StageResult> {
    const s = { ...(JSON.parse(settings) as DeploySettings), image };
    const refused = await this.verify(image, publicKey, s.environment, registry);
    if (refused) return refused;
    return this.controller("deploy", s, docker, proxyAdmin, secrets);
  }

  /** Puts the last good version (recorded on the live replicas) back, by blue-green. */
  @func({ cache: "never" })
  async rollback(docker: Service, proxyAdmin: Service, settings: string, secrets: Secret[] = []): Promise<StageResult> {
    return this.controller("rollback", { ...(JSON.parse(settings) as DeploySettings), image: "" }, docker, proxyAdmin, secrets);
  }

  /**
   * Writes image's digest into <path>/kustomization.yaml of the manifests repository (images: name, newName,
   * digest), commits "deploy <app> <revision> to <environment>" and pushes. git: a service for a remote on the
   * caller's loopback (git://host:port/...); token: for an https remote.
   */
  @func({ cache: "never" })
  async gitops(image: string, publicKey: File, remote: string, environment: string, revision: string, name: string, path = ".", branch = "main",
    git?: Service, token?: Secret, registry?: Service): Promise<StageResult> {
    const refused = await this.verify(image, publicKey, environment, registry);
    if (refused) return refused;
    const m = /^(git|https?):\/\/(localhost|127\.0\.0\.1)(:\d+)?\//.exec(remote);
    let url = remote;
    let ctr = this.base().withEnvVariable("GIT_TERMINAL_PROMPT", "0");
    if (m) {
      if (!git) throw new Error(`${remote} is on this host's loopback: pass the git server as a service (--git tcp://localhost${m[3] ?? ""})`);
      ctr = ctr.withServiceBinding("git", git);
      url = `${m[1]}://git${m[3] ?? ""}/${remote.slice(m[0].length)}`;
    }
    if (token) {
      ctr = ctr.withSecretVariable("GIT_TOKEN", token)
        .withExec(["git", "config", "--global", "credential.helper", '!f() { echo username=x-access-token; echo "password=$GIT_TOKEN"; }; f']);
    }
    const cloned = ctr.withExec(["git", "clone", "--quiet", "--branch", branch, "--depth", "1", url, "/repo"], { expect: ReturnType.Any });
    if ((await cloned.exitCode()) !== 0) {
      return fail("deploy", `deploy ${environment}: failed, cannot clone ${remote} (branch ${branch}): ${lastLine(await cloned.stderr())}`, "failed");
    }
    const file = `/repo/${path.replace(/^\.?\/?/, "").replace(/\/?$/, "/")}kustomization.yaml`.replace("//", "/");
    const text = await cloned.file(file).contents().catch(() => {
      throw new Error(`${path}/kustomization.yaml is missing in ${remote}: point --gitops-path at the overlay to update`);
    });
    const [repo, digest] = image.split("@");
    const updated = setKustomizeImage(text, name, repo, digest);
    const short = revision.slice(0, 12) || digest.slice(7, 19);
    const message = `deploy ${name} ${short} to ${environment}\n\nimage: ${image}\nrevision: ${revision || "(none)"}\n`;
    const pushed = cloned.withNewFile(file, updated).withWorkdir("/repo")
      .withExec(["git", "-c", "user.name=Slipway", "-c", "user.email=slipway@localhost", "commit", "--quiet", "-am", message], { expect: ReturnType.Any })
      .withExec(["sh", "-c", `git push --quiet origin HEAD:${branch} 2>&1 && git rev-parse HEAD`], { expect: ReturnType.Any });
    const [code, out] = await Promise.all([pushed.exitCode(), pushed.stdout()]);
    if (code !== 0) return fail("deploy", `deploy ${environment}: failed, push to ${remote} refused: ${lastLine(out)}`, "failed");
    const commit = lastLine(out);
    return new StageResult("deploy", "passed", `deploy ${environment}: committed ${commit.slice(0, 12)} to ${remote} (${branch}): ${name} -> ${digest}`, "git push", 0, out,
      reportDir({ environment, outcome: "committed", image, remote, branch, path, commit, revision }));
  }

  /** null when the image verifies; otherwise the refusal. */
  private async verify(image: string, publicKey: File, environment: string, registry?: Service): Promise<StageResult | null> {
    if (!/@sha256:[0-9a-f]{64}$/.test(image)) {
      return fail("deploy", `deploy ${environment}: refused, "${image}" is not a digest reference: deploy what publish returned (repository@sha256:...); nothing changed`);
    }
    const v = deps.sign().verify(image, publicKey, { registry });
    const [status, message] = await Promise.all([v.status(), v.message()]);
    if (status === "passed") return null;
    return fail("deploy", `deploy ${environment}: refused, ${message.replace(/^verify: failed, /, "")}; sign it with \`slipway release\`; nothing changed on ${environment}`);
  }

  private base(): Container {
    return dag.container().from(this.image).withEnvVariable("SLIPWAY_RUN", `${Date.now()}-${Math.random()}`);
  }

  private async controller(action: string, s: DeploySettings, docker: Service, proxyAdmin: Service, secrets: Secret[]): Promise<StageResult> {
    if (secrets.length !== s.secretNames.length) throw new Error(`settings name ${s.secretNames.length} secret(s) but ${secrets.length} were given`);
    const [dockerPort, adminPort] = await Promise.all([docker.endpoint(), proxyAdmin.endpoint()]).then((e) => e.map((x) => x.split(":").pop()));
    let ctr = this.base()
      .withDirectory(CONTROLLER_DIR, controllerSource())
      .withServiceBinding("docker", docker)
      .withServiceBinding("proxy-admin", proxyAdmin)
      .withEnvVariable("DOCKER_HOST", `tcp://docker:${dockerPort}`)
      .withEnvVariable("SLIPWAY_PROXY_ADMIN", `proxy-admin:${adminPort}`)
      .withEnvVariable("SLIPWAY_DEPLOY", JSON.stringify(s));
    s.secretNames.forEach((n, i) => { ctr = ctr.withSecretVariable(`SLIPWAY_SECRET_${n}`, secrets[i]); });
    const run = ctr.withExec(["node", "--disable-warning=ExperimentalWarning", `${CONTROLLER_DIR}/container/controller.ts`, action], { expect: ReturnType.Any });
    const [code, stdout, stderr] = await Promise.all([run.exitCode(), run.stdout(), run.stderr()]);
    const reports = run.directory("/out");
    const report = JSON.parse(await run.file("/out/deploy.json").contents()) as { outcome: string; reason: string; strategy: string; failedRequests: number; steps: unknown[] };
    const head = `deploy ${s.environment}`;
    const message = code === 0
      ? `${head}: ${report.outcome === "unchanged" ? "unchanged" : "passed"}, ${report.reason} (${report.strategy}, ${report.steps.length} gated step(s), ${report.failedRequests} failed request(s))`
      : report.outcome === "rolled back"
        ? `${head}: failed and rolled back, ${report.reason}; ${report.failedRequests} failed request(s) during the attempt; the previous version serves`
        : `${head}: failed, ${report.reason}${stderr.trim() ? ` (${lastLine(stderr)})` : ""}`;
    return new StageResult("deploy", code === 0 ? "passed" : "failed", message, `controller.ts ${action}`, code, stdout, reports);
  }
}

/**
 * The controller and the plan it imports, laid out as in this module, for the controller's container. The
 * controller lives in container/, not src/: the TypeScript runtime imports every file under src/ to register the
 * module, and the controller is a program, not module code.
 */
function controllerSource(): Directory {
  const read = (f: string) => readFileSync(new URL(`../${f}`, import.meta.url), "utf8");
  return dag.directory().withNewFile("container/controller.ts", read("container/controller.ts")).withNewFile("src/plan.ts", read("src/plan.ts"));
}

/** A report as the controller writes one, for outcomes decided before or without it. */
function reportDir(report: Record<string, unknown>): Directory {
  return dag.directory().withNewFile("deploy.json", JSON.stringify(report, null, 2) + "\n");
}

function fail(stage: string, message: string, outcome = "refused"): StageResult {
  return new StageResult(stage, "failed", message, "", 1, "", reportDir({ outcome, reason: message }));
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).pop() ?? "";
}

