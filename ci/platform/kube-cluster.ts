/**
 * `slipway targets up kubernetes`: a real one-node Kubernetes cluster on this machine, offline. One cluster with a
 * namespace per environment (staging, production), not a cluster each: the node (control plane, kubelet,
 * containerd) takes about 300 MB and 3-5% of a core at rest here, which a second cluster would double, and what the deploy
 * tests exercise (Deployments, Services, readiness, rollbacks) is namespaced; a team's real staging and production
 * clusters are two kubeconfigs to Slipway, which this target can stand in for with two namespaces.
 *
 * The node is the privileged container slipway-k8s (image slipway/k8s-node, see catalog.ts kubeNode) on the network
 * slipway-k8s, 172.31.252.0/24, at KUBE.ip: the API server answers at https://KUBE.ip:6443 to client certificates
 * only. Its state (PKI, etcd's data, the kubeconfigs) is in /var/cache/slipway/kubernetes (root's only), kept across
 * restarts; the admin kubeconfig for this host is KUBECONFIG, and kubectl is KUBECTL.
 */
import { chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { ensureDir, paths, waitFor } from "./host.ts";
import { imageStep, recipeKey } from "./images/build.ts";
import { kubeNode, pause } from "./images/catalog.ts";
import { buildEtcd, buildKubernetes, etcdBinDir, KUBE_COMMANDS, kubeBinDir, KUBERNETES } from "./kube-build.ts";
import { REGISTRY_FRONT_SOCKET } from "./registry.ts";
import { runSteps, type Step, StepError } from "./steps.ts";

export const KUBE = {
  container: "slipway-k8s",
  node: "slipway-k8s",
  network: "slipway-k8s",
  subnet: "172.31.252.0/24",
  ip: "172.31.252.10",
  namespaces: ["staging", "production"],
} as const;

/** The cluster's state on this host: the node's /var/lib/slipway-k8s (PKI, etcd, kubeconfigs). Root's only. */
export const kubeStateDir = join(paths.cache, "kubernetes");
/** The admin kubeconfig (client certificate of O=system:masters), mode 600: a deploy credential, never an app's. */
export const KUBECONFIG = join(kubeStateDir, "export", "kubeconfig");
/** kubectl of the cluster's version, built with it. */
export const KUBECTL = join(kubeBinDir, "kubectl");
const NODE_LOGS = "/var/log/slipway";

const quiet = $({ quiet: true, nothrow: true });
/** kubectl against the cluster as its admin; failures returned. */
export const kubectl = (args: string[]) => quiet`${KUBECTL} --kubeconfig ${KUBECONFIG} --request-timeout 10s ${args}`;

const running = async () => (await quiet`docker inspect -f {{.State.Running}} ${KUBE.container}`).stdout.trim();
const startedFrom = async () =>
  (await quiet`docker inspect -f ${'{{index .Config.Labels "slipway.recipe"}}'} ${KUBE.container}`).stdout.trim();

/**
 * The node's Ready condition ("True" when Ready), or undefined when the API server does not answer. A condition
 * the kubelet reported before the node container last started is "Unknown": etcd keeps the last one across a
 * restart, and a node is Ready only once its kubelet says so again.
 */
export async function nodeReady(): Promise<string | undefined> {
  if (!existsSync(KUBECONFIG) || !existsSync(KUBECTL)) return undefined;
  const path = '{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}';
  const r = await kubectl(["get", "node", KUBE.node, "-o", `jsonpath=${path}`]);
  if (r.exitCode !== 0) return undefined;
  const [status, heartbeat] = r.stdout.trim().split(" ");
  const started = Date.parse((await quiet`docker inspect -f {{.State.StartedAt}} ${KUBE.container}`).stdout.trim());
  return status && Date.parse(heartbeat) >= Math.floor(started / 1000) * 1000 ? status : "Unknown";
}

/** The last lines of a component's log inside the node, for an error. */
async function nodeLog(component: string, lines = 3): Promise<string> {
  const r = await quiet`docker exec ${KUBE.container} tail -n ${lines} ${`${NODE_LOGS}/${component}.log`}`;
  return r.stdout.trim().replace(/\s*\n\s*/g, " | ");
}

const programsStep: Step = {
  title: `Kubernetes ${KUBERNETES.version} and etcd ${KUBERNETES.etcd} from the Go module proxy`,
  async done() {
    const bins = [...KUBE_COMMANDS.map((c) => join(kubeBinDir, c)), join(etcdBinDir, "etcd")];
    return bins.every((b) => existsSync(b)) ? `built (${kubeBinDir})` : undefined;
  },
  async run(progress) {
    await buildEtcd(this.title, progress);
    await buildKubernetes(this.title, progress);
    return `built into ${kubeBinDir}`;
  },
};

const nodeStep: Step = {
  title: `Kubernetes node ${KUBE.node} (https://${KUBE.ip}:6443, container ${KUBE.container})`,
  async done() {
    return (await startedFrom()) === recipeKey(kubeNode) && (await nodeReady()) === "True" && (await registryReachable())
      ? "Ready"
      : undefined;
  },
  async run(progress) {
    if ((await quiet`docker network inspect ${KUBE.network}`).exitCode !== 0) {
      progress(`creating the network ${KUBE.network} (${KUBE.subnet})`);
      await $({ quiet: true })`docker network create --subnet ${KUBE.subnet} ${KUBE.network}`;
    }
    let state = await running();
    // a node from another image is replaced (its state directory stays: the PKI and etcd's data); one whose registry
    // forward broke (the front restarted, its socket is a new file) is restarted
    if (state && (await startedFrom()) !== recipeKey(kubeNode)) {
      progress(`replacing ${KUBE.container}: its image changed`);
      await quiet`docker rm -f ${KUBE.container}`;
      state = "";
    } else if (state === "true" && !(await registryReachable())) {
      progress(`restarting ${KUBE.container}: it no longer reaches the registry`);
      await quiet`docker restart -t 5 ${KUBE.container}`;
    }
    // stopped (or left unstarted by a dockerd that came back before the registry's socket did): started again, else replaced
    if (state === "false" && (await quiet`docker start ${KUBE.container}`).exitCode !== 0) {
      progress(`replacing ${KUBE.container}: it did not start again`);
      await quiet`docker rm -f ${KUBE.container}`;
      state = "";
    }
    if (!state) {
      progress(`starting ${KUBE.container} at ${KUBE.ip} (containerd, etcd, the control plane, kubelet, kube-proxy)`);
      chmodSync(ensureDir(kubeStateDir), 0o700);
      const args = [
        ...["--name", KUBE.container, "--hostname", KUBE.node, "--privileged", "--cgroupns", "private", "--restart", "unless-stopped"],
        ...["--network", KUBE.network, "--ip", KUBE.ip, "--label", `slipway.recipe=${recipeKey(kubeNode)}`],
        ...["-v", `${kubeStateDir}:/var/lib/slipway-k8s`, "-v", `${KUBE.container}-containerd:/var/lib/containerd`],
        // --mount, not -v: a missing socket fails the start instead of becoming a directory the front cannot replace
        ...["--mount", `type=bind,src=${REGISTRY_FRONT_SOCKET},dst=/run/slipway/registry.sock`],
        ...["--tmpfs", "/run:exec", "--tmpfs", "/var/lib/kubelet:exec"],
      ];
      const r = await quiet`docker run -d ${args} ${kubeNode.refs[0]}`;
      if (r.exitCode !== 0)
        throw new StepError(this.title, r.stderr.trim().split("\n").pop() ?? "docker run failed", "check `docker info`");
    }
    progress("waiting for the API server and the node to be Ready (about 10 s)");
    if (!(await waitFor(async () => (await nodeReady()) === "True", 180))) {
      const why =
        (await running()) !== "true" ? (await quiet`docker logs --tail 3 ${KUBE.container}`).stderr.trim() : await nodeLog("kubelet");
      throw new StepError(
        this.title,
        `the node is not Ready after 180s: ${why}`,
        `docker exec ${KUBE.container} ls ${NODE_LOGS} (each component's log)`,
      );
    }
    return "Ready";
  },
};

/** The node reaches the registry mirror at its 127.0.0.1:5000 (any HTTP answer). */
async function registryReachable(): Promise<boolean> {
  const r = await quiet`docker exec ${KUBE.container} curl -s -o /dev/null -w %{http_code} http://127.0.0.1:5000/v2/`;
  return /^[2-4]\d\d$/.test(r.stdout.trim());
}

const namespacesStep: Step = {
  title: `namespaces ${KUBE.namespaces.join(", ")}`,
  async done() {
    const r = await kubectl(["get", "namespace", ...KUBE.namespaces, "-o", "name"]);
    return r.exitCode === 0 ? "present" : undefined;
  },
  async run() {
    const yaml = KUBE.namespaces.map((n) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${n}\n`).join("---\n");
    const r = await $({ quiet: true, nothrow: true, input: yaml })`${KUBECTL} --kubeconfig ${KUBECONFIG} apply -f -`;
    if (r.exitCode !== 0)
      throw new StepError(
        this.title,
        r.stderr.trim().split("\n").pop() ?? "kubectl apply failed",
        `${KUBECTL} --kubeconfig ${KUBECONFIG} get ns`,
      );
    return "created";
  },
};

/** The cluster's steps, in order (kubernetesUp runs them once the engine and the registry are up). */
export const kubernetesSteps = (): Step[] => [programsStep, imageStep(pause), imageStep(kubeNode), nodeStep, namespacesStep];

/** Brings the cluster up (idempotent); quiet: no step lines unless something needs doing. */
export async function kubernetesUp(quietRun = false): Promise<void> {
  const steps = kubernetesSteps();
  if (quietRun && (await Promise.all(steps.map((s) => s.done()))).every(Boolean)) return;
  const { useEngine } = await import("./connection.ts");
  await useEngine({ quiet: true, check: false }); // the host's Docker and the registry the node pulls from
  await runSteps(steps);
  process.stderr.write(`kubeconfig: ${KUBECONFIG}\nkubectl:    ${KUBECTL}\n`);
}

/** Lines for `targets status`: the node and what runs in each namespace. */
export async function kubernetesStatus(): Promise<string> {
  if ((await running()) !== "true") return "not running";
  const ready = await nodeReady();
  if (ready === undefined) return `container runs; the API server at https://${KUBE.ip}:6443 does not answer`;
  const nodes = await kubectl([
    "get",
    "nodes",
    "-o",
    "custom-columns=NAME:.metadata.name,VERSION:.status.nodeInfo.kubeletVersion",
    "--no-headers",
  ]);
  const [name, version] = nodes.stdout.trim().split(/\s+/);
  const lines = [
    `https://${KUBE.ip}:6443; node ${name} ${ready === "True" ? "Ready" : `not Ready (${ready})`}, ${version}; kubeconfig ${KUBECONFIG}`,
  ];
  for (const ns of KUBE.namespaces) {
    const d = await kubectl([
      "get",
      "deployments",
      "-n",
      ns,
      "-o",
      'jsonpath={range .items[*]}{.metadata.name} {.status.readyReplicas}/{.spec.replicas}{"\\n"}{end}',
    ]);
    const apps = d.stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => l.replace(" /", " 0/"));
    lines.push(`  ${ns}: ${apps.join(", ") || "no deployments"}`);
  }
  return lines.join("\n");
}

/** Stops the node (its state and images kept); whether it ran. */
export async function kubernetesDown(): Promise<boolean> {
  if ((await running()) !== "true") return false;
  await quiet`docker stop -t 20 ${KUBE.container}`;
  return true;
}
