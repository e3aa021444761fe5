/**
 * Deploy a verified image. Target "docker host": a Docker engine (its API's unix socket) with HAProxy in front; strategies
 * rolling, blue-green and canary, each traffic step gated on health and error rate over a window, the previous
 * version serving until the new one is proven, automatic rollback, and `rollback` to the last good version.
 * Target "gitops": the digest written into a kustomization's images, committed naming the commit SHA, pushed.
 * Every function verifies the image's signature and attestations first and is never served from cache.
 */
import {
  dag,
  type Container,
  type Directory,
  field,
  File,
  type float,
  func,
  object,
  ReturnType,
  Secret,
  Service,
  Socket,
} from "@dagger.io/dagger";
import { readFileSync } from "node:fs";
import { StageResult } from "./result.ts";
import { deps, pins } from "./deps.ts";
import { type DeploySettings, parseSteps, STRATEGIES, type Strategy } from "./plan.ts";
import { setKustomizeImage } from "./kustomize.ts";
import { servingImage } from "./docker-api.ts";
import { parseSshHost } from "./ssh.ts";
import { checkQuery, DEFAULT_ERROR_QUERY, DEFAULT_LATENCY_QUERY, type MetricGates } from "./metrics.ts";

export * from "./plan.ts";
export { DEFAULT_ERROR_QUERY, DEFAULT_LATENCY_QUERY } from "./metrics.ts";
export { setKustomizeImage } from "./kustomize.ts";

const CONTROLLER_DIR = "/opt/slipway/deploy";
/** Where the target's Docker API socket is mounted (or, over SSH, forwarded) in the controller's container. */
const DOCKER_SOCKET = "/run/slipway/docker.sock";
/** Where an SSH target's key and known_hosts are mounted in the controller's container (see container/controller.ts). */
const SSH_DIR = "/run/slipway/ssh";

@object()
export class Deploy {
  /** The image the controller and git run in (node and git); empty: the pinned Node image (modules/pins). */
  @func() image: string;

  constructor(image: string = "") {
    this.image = image;
  }

  /**
   * An environment of app to deploy to, set up with its withX() functions: a target (withDockerHost or
   * withGitops), then the strategy, gates, app variables and secrets; `deploy` and `rollback` act on it.
   */
  @func()
  environment(name: string, app: string): DeployEnvironment {
    if (!/^[a-z][a-z0-9-]*$/.test(name))
      throw new Error(`environment ${JSON.stringify(name)} is not a name: use lowercase letters, digits and dashes (e.g. staging)`);
    if (!/^[a-z0-9][a-z0-9_.-]*$/.test(app))
      throw new Error(`app ${JSON.stringify(app)} is not a container name: use lowercase letters, digits, ".", "_" and "-"`);
    return new DeployEnvironment(this.image, name, app);
  }
}

/** Where and how an app is deployed: built with withX() (each checks its value), then deploy or rollback. */
@object()
export class DeployEnvironment {
  @field() name: string;
  @field() app: string;
  /** rolling, blue-green or canary */
  @field() strategy: string = "rolling";
  @field() replicas: number = 2;
  /** The proxy's public listener on the target, e.g. 127.0.0.1:18081 */
  @field() listen: string = "";
  /** First port of the blue slot; green uses appPort + 100 */
  @field() appPort: number = 0;
  @field() healthPath: string = "/health";
  @field() healthTimeoutSeconds: float = 60;
  @field() windowSeconds: float = 10;
  @field() maxErrorRate: float = 0.01;
  @field() canarySteps: number[] = [10, 50, 100];
  /** Gates from Prometheus (withPrometheusGates): the error-ratio and p99-latency PromQL queries, the p99 ceiling */
  @field() errorQuery: string = "";
  @field() latencyQuery: string = "";
  @field() maxP99Seconds: float = 0;
  /** The app's plain environment, as NAME=value */
  @field() env: string[] = [];
  /** Names of the app's secret variables, in the order of `secrets` */
  @field() secretNames: string[] = [];
  /** The GitOps repository ("" for a Docker host target) */
  @field() gitopsRemote: string = "";
  @field() gitopsPath: string = ".";
  @field() gitopsBranch: string = "main";
  /** Attestations required besides signature, SBOM, provenance and scan ("gates:test,scan,secrets", "smoke:staging") */
  @field() requires: string[] = [];
  controllerImage: string;
  secrets: Secret[] = [];
  /** The public keys this environment accepts images from, and for each the sources it may sign (comma-joined; "" any) */
  trustedKeys: File[] = [];
  trustedSources: string[] = [];
  docker?: Socket;
  /** An SSH target: ssh://user@host[:port] ("" otherwise), its private key and known_hosts line(s) */
  @field() sshHost: string = "";
  sshKey?: Secret;
  sshKnownHosts?: Secret;
  git?: Service;
  gitToken?: Secret;
  registry?: Service;
  /** The run a rollout belongs to, named in the target's lock ("" : the controller makes one up) */
  run = "";
  /** The target's Docker API socket as a path in this process's filesystem (the CLI on the target's host), if it is one */
  localSocket = "";

  constructor(controllerImage: string, name: string, app: string) {
    this.controllerImage = controllerImage;
    this.name = name;
    this.app = app;
  }

  /** rolling (default), blue-green or canary. */
  @func()
  withStrategy(strategy: string): DeployEnvironment {
    if (!STRATEGIES.includes(strategy as Strategy))
      throw new Error(`strategy ${JSON.stringify(strategy)} is not one: use ${STRATEGIES.join(", ")}`);
    return this.with({ strategy });
  }

  /** Replicas per slot (1-20, default 2). */
  @func()
  withReplicas(replicas: number): DeployEnvironment {
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 20) throw new Error(`replicas ${replicas} is not a replica count (1-20)`);
    return this.with({ replicas });
  }

  /**
   * A Docker host target: its Docker API as a unix socket (docker; on the command line --docker=unix:///PATH), the
   * proxy listening on listen (host:port), the app's replicas from appPort up. HAProxy's runtime API is a unix
   * socket inside the proxy container, reached through the Docker API: no TCP port to open or protect.
   */
  @func()
  withDockerHost(docker: Socket, listen: string, appPort: number): DeployEnvironment {
    checkProxyPorts(listen, appPort);
    return this.with({ docker, listen, appPort, gitopsRemote: "", sshHost: "" });
  }

  /**
   * A Docker host reached over SSH, as Kamal reaches its servers: host is ssh://user@host[:port] (the user may use
   * the host's Docker socket), key the private key, knownHosts the host's known_hosts line(s), checked strictly (a
   * host whose key does not match is refused before anything runs). The proxy and the app run on that host; the
   * proxy listens on listen there. An image on the caller's loopback registry (withRegistry) is pulled by the host
   * through the same connection.
   */
  @func()
  withSshHost(host: string, key: Secret, knownHosts: Secret, listen: string, appPort: number): DeployEnvironment {
    parseSshHost(host);
    checkProxyPorts(listen, appPort);
    return this.with({
      sshHost: host,
      sshKey: key,
      sshKnownHosts: knownHosts,
      listen,
      appPort,
      gitopsRemote: "",
      docker: undefined,
      localSocket: "",
    });
  }

  /**
   * A GitOps target: the digest written into <path>/kustomization.yaml on branch of remote. git: the server as a
   * service when the remote is on the caller's loopback (git://127.0.0.1:PORT/...); token: for an https remote.
   */
  @func()
  withGitops(remote: string, path = ".", branch = "main", git?: Service, token?: Secret): DeployEnvironment {
    if (!/^(git|https?|ssh):\/\/\S+$/.test(remote))
      throw new Error(`gitops remote ${JSON.stringify(remote)} is not a git URL: write e.g. https://git.example.com/team/manifests.git`);
    if (!/^[A-Za-z0-9._/-]+$/.test(branch) || branch.startsWith("-"))
      throw new Error(`gitops branch ${JSON.stringify(branch)} is not a branch name`);
    if (!/^[A-Za-z0-9._/-]+$/.test(path) || path.split("/").includes(".."))
      throw new Error(`gitops path ${JSON.stringify(path)} is not a path inside the repository`);
    return this.with({
      gitopsRemote: remote,
      gitopsPath: path,
      gitopsBranch: branch,
      git,
      gitToken: token,
      docker: undefined,
      sshHost: "",
    });
  }

  /** The health check: path answering 200 on every replica within timeoutSeconds. */
  @func()
  withHealthCheck(path: string, timeoutSeconds: float = 60): DeployEnvironment {
    if (!/^\/[\x21-\x7e]*$/.test(path)) throw new Error(`health path ${JSON.stringify(path)} is not a URL path: write e.g. /health`);
    if (!(timeoutSeconds > 0)) throw new Error(`health timeout ${timeoutSeconds} is not a number of seconds`);
    return this.with({ healthPath: path, healthTimeoutSeconds: timeoutSeconds });
  }

  /** The gate of each traffic step: at most maxErrorRate (0.01 = 1%) over windowSeconds, every new replica up. */
  @func()
  withGate(windowSeconds: float, maxErrorRate: float): DeployEnvironment {
    if (!(windowSeconds > 0)) throw new Error(`gate window ${windowSeconds} is not a number of seconds`);
    if (!(maxErrorRate >= 0 && maxErrorRate <= 1)) throw new Error(`max error rate ${maxErrorRate} is not between 0 and 1 (0.01 = 1%)`);
    return this.with({ windowSeconds, maxErrorRate });
  }

  /**
   * Each traffic step gated by Prometheus instead of the proxy's counters: a Prometheus beside the proxy scrapes the
   * proxy's exporter and each replica's /metrics every second. errorQuery's value must stay at most the gate's
   * maxErrorRate; latencyQuery's (seconds, the p99 by default) at most maxLatency (0: no latency gate). In both, $servers is the
   * new version's servers (a regex, e.g. green-1|green-2) and $window the gate's window. The defaults: the proxy's
   * 5xx ratio of the new servers (today's gate, in PromQL) and the p99 of the app's http_request_duration_seconds.
   * A query with no data is inconclusive: the step fails (except on a first deploy, which has nothing to go back to).
   */
  @func()
  withPrometheusGates(errorQuery = "", latencyQuery = "", maxLatency: float = 0): DeployEnvironment {
    if (!(maxLatency >= 0)) throw new Error(`max latency ${maxLatency} is not a number of seconds (0: no latency gate)`);
    return this.with({
      errorQuery: checkQuery(errorQuery || DEFAULT_ERROR_QUERY, "error query"),
      latencyQuery: checkQuery(latencyQuery || DEFAULT_LATENCY_QUERY, "latency query"),
      maxP99Seconds: maxLatency,
    });
  }

  /** A canary's traffic steps: rising percentages ending at 100 (default 10, 50, 100). */
  @func()
  withCanarySteps(steps: number[]): DeployEnvironment {
    return this.with({ canarySteps: parseSteps(steps.join(","), "canary steps") });
  }

  /** A plain environment variable of the app. */
  @func()
  withEnvVariable(name: string, value: string): DeployEnvironment {
    checkVariable(name);
    return this.with({ env: [...this.env.filter((e) => !e.startsWith(`${name}=`)), `${name}=${value}`] });
  }

  /** A secret environment variable of the app (never in a log, a layer or a report). */
  @func()
  withSecretVariable(name: string, secret: Secret): DeployEnvironment {
    checkVariable(name);
    const i = this.secretNames.indexOf(name);
    if (i >= 0) return this.with({ secrets: this.secrets.map((s, j) => (j === i ? secret : s)) });
    return this.with({ secretNames: [...this.secretNames, name], secrets: [...this.secrets, secret] });
  }

  /** A tunnel to the registry the image is on, when it is on the caller's loopback (signature verification). */
  @func()
  withRegistry(registry: Service): DeployEnvironment {
    return this.with({ registry });
  }

  /**
   * A key this environment accepts images signed by, for images built from sources (the repository URLs their
   * provenance may name; none: any). Call once per key; deploy and rollback need at least one (or deploy's publicKey).
   */
  @func()
  withTrustedKey(publicKey: File, sources: string[] = []): DeployEnvironment {
    for (const src of sources)
      if (!/^[^\s,]+$/.test(src))
        throw new Error(`source ${JSON.stringify(src)} is not a repository URL or path: write e.g. https://git.example.com/team/app`);
    return this.with({ trustedKeys: [...this.trustedKeys, publicKey], trustedSources: [...this.trustedSources, sources.join(",")] });
  }

  /**
   * What this environment requires of an image besides its signature, SBOM, provenance and scan attestations:
   * gates:STAGE[,STAGE...] (those pipeline stages passed before it was signed) and smoke:ENVIRONMENT (this very
   * digest passed that environment's smoke checks), e.g. production: gates:test,scan,secrets smoke:staging.
   */
  @func()
  withRequirements(requires: string[]): DeployEnvironment {
    for (const r of requires)
      if (!/^(gates:[a-z0-9][a-z0-9,-]*|smoke:[a-z][a-z0-9-]*)$/.test(r))
        throw new Error(`requirement ${JSON.stringify(r)} is not one: write gates:STAGE[,STAGE...] or smoke:ENVIRONMENT`);
    return this.with({ requires });
  }

  /**
   * The run a deploy or rollback belongs to (the CLI's run id): named in the target's lock ("locked by <run>"), and
   * the run whose lock `recover` may take over. Called by the CLI, not exposed to `dagger call`.
   */
  withRun(run: string): DeployEnvironment {
    if (!/^[A-Za-z0-9._@:+-]{1,100}$/.test(run))
      throw new Error(`run ${JSON.stringify(run)} is not a run id: use letters, digits and . _ @ : + - (at most 100)`);
    return this.with({ run });
  }

  /**
   * The Docker host target's socket as a path this process can open (the CLI, on the target's own host): a deploy
   * of what already serves is then seen as such without starting the controller's container. Called by the CLI,
   * not exposed to `dagger call` (a module's function runs in a container of the engine).
   */
  withLocalSocket(path: string): DeployEnvironment {
    return this.with({ localSocket: path });
  }

  /**
   * After the run (withRun) was interrupted mid-rollout: takes over its lock on the target, returns the traffic to
   * the stable version (or finishes a rollout that had already taken all traffic), removes the half-started slot's
   * replicas and releases the lock. Docker host targets only; the CLI calls it on SIGINT/SIGTERM.
   */
  async recover(): Promise<StageResult> {
    if (this.target() === "gitops") throw new Error(`recover of a GitOps target: a deploy there is one commit, nothing to restore`);
    return this.controller("recover", "");
  }

  /** The rollout settings as the controller receives them (JSON; secrets by name only). */
  @func()
  settings(image = ""): string {
    return JSON.stringify(this.plan(image), null, 2);
  }

  /**
   * Verifies image (repository@sha256:...) against the environment's trusted keys (withTrustedKey; publicKey is
   * one more, trusted for any source) and requirements, then rolls it out: on a Docker host by the strategy, each
   * traffic step gated, rolled back automatically when a gate fails (deploying what is already live changes
   * nothing); on a GitOps target by a commit "deploy <app> <revision> to <environment>" pushed to the branch.
   */
  @func({ cache: "never" })
  async deploy(image: string, publicKey?: File, revision = ""): Promise<StageResult> {
    this.target();
    const refused = await this.verify(image, publicKey, "deploy");
    if (refused) return refused;
    if (this.gitopsRemote) return this.commit(image, revision);
    return (await this.alreadyServing(image)) ?? this.controller("deploy", image);
  }

  /**
   * The outcome of a deploy of image when the target (read through localSocket, no lock taken) shows it serving
   * with nothing in progress: unchanged, as the controller would find it. undefined when that is not certain.
   */
  private async alreadyServing(image: string): Promise<StageResult | undefined> {
    if (!this.localSocket) return undefined;
    const serving = await servingImage(this.localSocket, this.plan(image)).catch(() => undefined);
    if (serving?.image !== image) return undefined;
    const reason = `${image} is already live (${serving.slot})`;
    const report = { app: this.app, environment: this.name, strategy: this.strategy, image, previous: image, run: this.run };
    const outcome = { ...report, outcome: "unchanged", reason, steps: [], failedRequests: 0 };
    return StageResult.of({
      stage: "deploy",
      status: "passed",
      message: deployMessage(this.name, outcome, 0, ""),
      command: "docker API (read only)",
      output: `deploy ${this.name}: ${reason}\n`,
      reports: reportDir(outcome),
    });
  }

  /**
   * Puts the last good version (recorded on the live replicas) back, by blue-green, once it verifies against the
   * environment's trusted keys and requirements, as a deploy would: a version that does not is refused and nothing
   * changes. Docker host targets only.
   */
  @func({ cache: "never" })
  async rollback(publicKey?: File): Promise<StageResult> {
    if (this.target() === "gitops") throw new Error(`rollback of a GitOps target: revert the deploy commit in ${this.gitopsRemote}`);
    const found = await this.controller("previous", "");
    if (found.status !== "passed") return found;
    const previous = JSON.parse(await found.reports.file("deploy.json").contents()).image as string;
    const refused = await this.verify(previous, publicKey, "rollback");
    if (refused) return refused;
    return this.controller("rollback", previous);
  }

  /** null when image verifies with one of the trusted keys (and its sources) and meets the requirements; else the refusal. */
  private async verify(image: string, publicKey: File | undefined, what: "deploy" | "rollback"): Promise<StageResult | null> {
    const head =
      what === "deploy" ? `deploy ${this.name}: refused` : `rollback ${this.name}: refused, the previous version ${image} does not verify`;
    if (!/@sha256:[0-9a-f]{64}$/.test(image)) {
      return fail(
        "deploy",
        `${head}, "${image}" is not a digest reference: deploy what publish returned (repository@sha256:...); nothing changed`,
      );
    }
    const keys: [File, string[]][] = [
      ...(publicKey ? [[publicKey, []] as [File, string[]]] : []),
      ...this.trustedKeys.map((k, i): [File, string[]] => [k, this.trustedSources[i] ? this.trustedSources[i].split(",") : []]),
    ];
    if (!keys.length) throw new Error(`environment ${this.name} trusts no key: call withTrustedKey (or pass deploy's publicKey)`);
    const messages: string[] = [];
    for (const [key, sources] of keys) {
      const v = deps.sign().verify(image, key, { registry: this.registry, requires: this.requires, sources });
      const [status, m] = await Promise.all([v.status(), v.message()]);
      if (status === "passed") return null;
      messages.push(m);
    }
    // the reason from the key that did sign it (its policy is what failed), else the first key's
    const message = messages.find((m) => !/^verify: failed, no valid signature /.test(m)) ?? messages[0];
    const fix = what === "deploy" ? "sign it with `slipway release`" : "deploy a verified image instead";
    return fail("deploy", `${head}, ${message.replace(/^verify: failed, /, "")}; ${fix}; nothing changed on ${this.name}`);
  }

  private with(changes: Partial<DeployEnvironment>): DeployEnvironment {
    return Object.assign(Object.create(DeployEnvironment.prototype) as DeployEnvironment, this, changes);
  }

  private target(): "docker-host" | "gitops" {
    if (this.gitopsRemote) return "gitops";
    if (this.docker || this.sshHost) return "docker-host";
    throw new Error(`environment ${this.name} has no target: call withDockerHost, withSshHost or withGitops first`);
  }

  private plan(image: string): DeploySettings {
    const env = Object.fromEntries(this.env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
    return {
      app: this.app,
      environment: this.name,
      image,
      strategy: this.strategy as Strategy,
      replicas: this.replicas,
      listen: this.listen,
      appPort: this.appPort,
      healthPath: this.healthPath,
      healthTimeoutSeconds: this.healthTimeoutSeconds,
      windowSeconds: this.windowSeconds,
      maxErrorRate: this.maxErrorRate,
      canarySteps: this.canarySteps,
      env,
      secretNames: this.secretNames,
      ...(this.run ? { run: this.run } : {}),
      ...(this.errorQuery ? { metrics: this.metricGates() } : {}),
    };
  }

  private metricGates(): MetricGates {
    return { errorQuery: this.errorQuery, latencyQuery: this.latencyQuery, maxP99Seconds: this.maxP99Seconds };
  }

  /** The digest written into the kustomization of the GitOps repository, committed and pushed. */
  private async commit(image: string, revision: string): Promise<StageResult> {
    const [remote, environment, path, branch, name] = [this.gitopsRemote, this.name, this.gitopsPath, this.gitopsBranch, this.app];
    const m = /^(git|https?):\/\/(localhost|127\.0\.0\.1)(:\d+)?\//.exec(remote);
    let url = remote;
    let ctr = (await this.base()).withEnvVariable("GIT_TERMINAL_PROMPT", "0");
    if (m) {
      if (!this.git)
        throw new Error(
          `${remote} is on this host's loopback: pass the git server as a service (with-gitops --git tcp://localhost${m[3] ?? ""})`,
        );
      ctr = ctr.withServiceBinding("git", this.git);
      url = `${m[1]}://git${m[3] ?? ""}/${remote.slice(m[0].length)}`;
    }
    if (this.gitToken) {
      ctr = ctr
        .withSecretVariable("GIT_TOKEN", this.gitToken)
        .withExec([
          "git",
          "config",
          "--global",
          "credential.helper",
          '!f() { echo username=x-access-token; echo "password=$GIT_TOKEN"; }; f',
        ]);
    }
    const cloned = ctr.withExec(["git", "clone", "--quiet", "--branch", branch, "--depth", "1", url, "/repo"], { expect: ReturnType.Any });
    if ((await cloned.exitCode()) !== 0) {
      return fail(
        "deploy",
        `deploy ${environment}: failed, cannot clone ${remote} (branch ${branch}): ${lastLine(await cloned.stderr())}`,
        "failed",
      );
    }
    const file = `/repo/${path.replace(/^\.?\/?/, "").replace(/\/?$/, "/")}kustomization.yaml`.replace("//", "/");
    const text = await cloned
      .file(file)
      .contents()
      .catch(() => {
        throw new Error(`${path}/kustomization.yaml is missing in ${remote}: point SLIPWAY_GITOPS_PATH at the overlay to update`);
      });
    const [repo, digest] = image.split("@");
    const updated = setKustomizeImage(text, name, repo, digest);
    const short = revision.slice(0, 12) || digest.slice(7, 19);
    const message = `deploy ${name} ${short} to ${environment}\n\nimage: ${image}\nrevision: ${revision || "(none)"}\n`;
    const pushed = cloned
      .withNewFile(file, updated)
      .withWorkdir("/repo")
      .withExec(["git", "-c", "user.name=Slipway", "-c", "user.email=slipway@localhost", "commit", "--quiet", "-am", message], {
        expect: ReturnType.Any,
      })
      .withExec(["git", "push", "--quiet", "origin", `HEAD:refs/heads/${branch}`], { expect: ReturnType.Any });
    const [code, err] = await Promise.all([pushed.exitCode(), pushed.stderr()]);
    if (code !== 0) return fail("deploy", `deploy ${environment}: failed, push to ${remote} refused: ${lastLine(err)}`, "failed");
    const commit = (await pushed.withExec(["git", "rev-parse", "HEAD"]).stdout()).trim();
    return StageResult.of({
      stage: "deploy",
      status: "passed",
      message: `deploy ${environment}: committed ${commit.slice(0, 12)} to ${remote} (${branch}): ${name} -> ${digest}`,
      command: "git push",
      reports: reportDir({ environment, outcome: "committed", image, remote, branch, path, commit, revision }),
    });
  }

  /** A container for one run of the controller or git, in the controller's image. */
  private async base(): Promise<Container> {
    return base(this.controllerImage || (await pins().image("node")));
  }

  /** The rollout controller in a container, with the target's Docker API socket mounted (HAProxy is reached through it). */
  private async controller(action: string, image: string): Promise<StageResult> {
    const s = this.plan(image);
    let ctr = (await this.base())
      .withDirectory(CONTROLLER_DIR, controllerSource())
      // the proxy and the deploy lock's idle container run the pinned HAProxy image
      .withEnvVariable("SLIPWAY_PROXY_IMAGE", await pins().image("haproxy"))
      .withEnvVariable("SLIPWAY_PROMETHEUS_IMAGE", this.errorQuery ? await pins().image("prometheus") : "")
      .withEnvVariable("DOCKER_HOST", `unix://${DOCKER_SOCKET}`)
      .withEnvVariable("SLIPWAY_DEPLOY", JSON.stringify(s));
    if (this.sshHost) {
      // the controller opens the connection; the image's registry, when it is the caller's, is forwarded back over it
      ctr = ctr
        .withMountedSecret(`${SSH_DIR}/key`, this.sshKey!)
        .withMountedSecret(`${SSH_DIR}/known_hosts`, this.sshKnownHosts!)
        .withEnvVariable("SLIPWAY_SSH_HOST", this.sshHost);
      const port = /^(?:127\.0\.0\.1|localhost):(\d+)\//.exec(image || s.image)?.[1];
      if (this.registry && port)
        ctr = ctr.withServiceBinding("registry", this.registry).withEnvVariable("SLIPWAY_SSH_REGISTRY", `registry:${port}`);
    } else ctr = ctr.withUnixSocket(DOCKER_SOCKET, this.docker!);
    s.secretNames.forEach((n, i) => {
      ctr = ctr.withSecretVariable(`SLIPWAY_SECRET_${n}`, this.secrets[i]);
    });
    const run = ctr.withExec(["node", "--disable-warning=ExperimentalWarning", `${CONTROLLER_DIR}/container/controller.ts`, action], {
      expect: ReturnType.Any,
    });
    const [code, stdout, stderr] = await Promise.all([run.exitCode(), run.stdout(), run.stderr()]);
    const reports = run.directory("/out");
    const report = JSON.parse(await run.file("/out/deploy.json").contents()) as {
      outcome: string;
      reason: string;
      strategy: string;
      failedRequests: number;
      steps: unknown[];
    };
    const message = deployMessage(s.environment, report, code, stderr);
    return StageResult.of({
      stage: "deploy",
      status: code === 0 ? "passed" : "failed",
      message,
      command: `controller.ts ${action}`,
      exitCode: code,
      output: stdout,
      reports,
    });
  }
}

/** The line for a controller's report (deploy.json) and exit code, as the deploy stage says it. */
function deployMessage(
  environment: string,
  report: { outcome: string; reason: string; strategy: string; failedRequests: number; steps: unknown[] },
  code: number,
  stderr: string,
): string {
  const head = `deploy ${environment}`;
  if (report.outcome === "locked" || (report.strategy === "recover" && code === 0)) return `${head}: ${report.reason}`;
  if (report.outcome === "refused") return `${head}: refused, ${report.reason}`;
  if (report.outcome === "interrupted") return `${head}: stopped, ${report.reason}`;
  if (code === 0)
    return `${head}: ${report.outcome === "unchanged" ? "unchanged" : "passed"}, ${report.reason} (${report.strategy}, ${report.steps.length} gated step(s), ${report.failedRequests} failed request(s))`;
  if (report.outcome === "rolled back")
    return `${head}: failed and rolled back, ${report.reason}; ${report.failedRequests} failed request(s) during the attempt; the previous version serves`;
  return `${head}: failed, ${report.reason}${stderr.trim() ? ` (${lastLine(stderr)})` : ""}`;
}

/** A Docker host target's proxy listener (host:port) and first replica port. */
function checkProxyPorts(listen: string, appPort: number): void {
  if (!/^[^\s:]+:\d+$/.test(listen)) throw new Error(`listen ${JSON.stringify(listen)} is not host:port: write e.g. 127.0.0.1:18081`);
  if (!Number.isInteger(appPort) || appPort < 1 || appPort > 65435)
    throw new Error(`appPort ${appPort} is not a port number (1-65435; green uses appPort + 100)`);
}

function checkVariable(name: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new Error(`${JSON.stringify(name)} is not an environment variable name: use letters, digits and _`);
}

/** null when the image verifies; otherwise the refusal. */

/** A container for one run: never served from cache (each run acts on the target as it is now). */
function base(image: string): Container {
  return dag.container().from(image).withEnvVariable("SLIPWAY_RUN", `${Date.now()}-${Math.random()}`);
}

/**
 * The controller and the plan it imports, laid out as in this module, for the controller's container. The
 * controller lives in container/, not src/: the TypeScript runtime imports every file under src/ to register the
 * module, and the controller is a program, not module code.
 */
function controllerSource(): Directory {
  const read = (f: string) => readFileSync(new URL(`../${f}`, import.meta.url), "utf8");
  return dag
    .directory()
    .withNewFile("container/controller.ts", read("container/controller.ts"))
    .withNewFile("src/plan.ts", read("src/plan.ts"))
    .withNewFile("src/docker-api.ts", read("src/docker-api.ts"))
    .withNewFile("src/ssh.ts", read("src/ssh.ts"))
    .withNewFile("src/metrics.ts", read("src/metrics.ts"));
}

/** A report as the controller writes one, for outcomes decided before or without it. */
function reportDir(report: Record<string, unknown>): Directory {
  return dag.directory().withNewFile("deploy.json", JSON.stringify(report, null, 2) + "\n");
}

function fail(stage: string, message: string, outcome = "refused"): StageResult {
  return StageResult.of({ stage, status: "failed", message, exitCode: 1, reports: reportDir({ outcome, reason: message }) });
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).pop() ?? "";
}
