/**
 * The Kubernetes target (`slipway targets up kubernetes`): a one-node cluster built from the Go module proxy (the
 * first run builds it, about 15 minutes on 2 cores; later runs find it cached by version), its node Ready, kubectl
 * against the exported kubeconfig, a pod pulled through the registry mirror and served on a NodePort, the API
 * server closed to anyone without a client certificate, and `targets status` naming the node and what runs.
 */
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run, slipway, tempDir } from "./helpers.ts";
import { KUBE, KUBECONFIG, KUBECTL } from "../platform/kube-cluster.ts";
import { KUBERNETES } from "../platform/kube-build.ts";

const NS = "staging";
const PORT = 30099;
const kubeconfig = join(tempDir("kubeconfig"), "config");
const kubectl = (...args: string[]) => run(KUBECTL, ["--kubeconfig", kubeconfig, ...args], { timeout: 120_000 });

/** A web server from the mirror's node image, ready when it answers, on NodePort PORT. */
const app = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: slipway-probe, namespace: ${NS} }
spec:
  replicas: 1
  selector: { matchLabels: { app: slipway-probe } }
  template:
    metadata: { labels: { app: slipway-probe } }
    spec:
      containers:
        - name: web
          image: node:22
          command: ["node", "-e", "require('http').createServer((q, s) => s.end('answered by ' + require('os').hostname())).listen(8080)"]
          ports: [{ containerPort: 8080 }]
          readinessProbe: { httpGet: { path: /, port: 8080 }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: slipway-probe, namespace: ${NS} }
spec:
  type: NodePort
  selector: { app: slipway-probe }
  ports: [{ port: 80, targetPort: 8080, nodePort: ${PORT} }]
`;

afterAll(async () => {
  await kubectl("delete", "-n", NS, "deployment/slipway-probe", "service/slipway-probe", "--ignore-not-found", "--wait=false");
});

describe("slipway targets up kubernetes", () => {
  it("brings up a cluster whose node is Ready, and a second run does nothing", { timeout: 2_700_000 }, async () => {
    const first = await run(process.execPath, [join(import.meta.dirname, "../bin/slipway.js"), "targets", "up", "kubernetes"], {
      timeout: 2_700_000,
    });
    expect(first.code, first.out).toBe(0);
    expect(first.out).toMatch(/Kubernetes node slipway-k8s .*: (ok|done), Ready /);
    const t0 = Date.now();
    const second = await slipway("targets", "up", "kubernetes");
    process.stderr.write(`second \`targets up kubernetes\`: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    expect(second.code, second.out).toBe(0);
    // every step found its work done
    expect(second.out).not.toMatch(/: done, /);
    expect(second.out).toMatch(/Kubernetes node slipway-k8s .*: ok, Ready /);
  });

  it("kubectl works against the exported kubeconfig", async () => {
    copyFileSync(KUBECONFIG, kubeconfig);
    const nodes = await kubectl("get", "nodes");
    expect(nodes.code, nodes.out).toBe(0);
    expect(nodes.stdout).toMatch(new RegExp(`^${KUBE.node}\\s+Ready\\s+\\S+\\s+\\S+\\s+${KUBERNETES.version.replace(/\./g, "\\.")}$`, "m"));
    const version = await kubectl("version");
    expect(version.stdout).toContain(`Server Version: ${KUBERNETES.version}`);
    const ns = await kubectl("get", "namespaces", "-o", "name");
    for (const n of KUBE.namespaces) expect(ns.stdout).toContain(`namespace/${n}`);
  });

  it("runs a pod pulled through the registry mirror and serves it on a NodePort", async () => {
    const applied = await run("sh", ["-c", `"${KUBECTL}" --kubeconfig "${kubeconfig}" apply -f - <<'EOF'\n${app}\nEOF`]);
    expect(applied.code, applied.out).toBe(0);
    const rolled = await kubectl("rollout", "status", "-n", NS, "deployment/slipway-probe", "--timeout=180s");
    expect(rolled.code, rolled.out + (await kubectl("describe", "pods", "-n", NS, "-l", "app=slipway-probe")).stdout).toBe(0);
    // kube-proxy programs the NodePort shortly after the Service exists: up to 30 s
    let answer = "";
    for (let i = 0; i < 60 && !answer; i++) {
      answer = await fetch(`http://${KUBE.ip}:${PORT}/`, { signal: AbortSignal.timeout(2000) })
        .then(async (r) => `${r.status} ${await r.text()}`)
        .catch(() => new Promise<string>((r) => setTimeout(() => r(""), 500)));
    }
    expect(answer).toMatch(/^200 answered by slipway-probe-/);
    const status = await slipway("targets", "status");
    expect(status.out).toMatch(
      new RegExp(`kubernetes\\s+https://${KUBE.ip.replace(/\./g, "\\.")}:6443; node ${KUBE.node} Ready, ${KUBERNETES.version}`),
    );
    expect(status.out).toMatch(/\n\s+staging: .*slipway-probe 1\/1/);
  });

  it("the API server refuses a caller without a client certificate", async () => {
    const anonymous = await run("curl", ["-sk", "-o", "/dev/null", "-w", "%{http_code}", `https://${KUBE.ip}:6443/api/v1/namespaces`]);
    expect(anonymous.stdout).toBe("401");
    const kubelet = await run("curl", ["-sk", "-o", "/dev/null", "-w", "%{http_code}", `https://${KUBE.ip}:10250/pods`]);
    expect(kubelet.stdout).toBe("401");
  });
});
