/** How the Kubernetes target's programs are built (ci/platform/kube-build.ts): pure logic, no engine, no network. */
import { describe, expect, it } from "vitest";
import { stagingModules, stagingVersion, versionStamp } from "../platform/kube-build.ts";

describe("the Kubernetes build", () => {
  it("pins the staging modules that k8s.io/kubernetes replaces by path, the samples left out", () => {
    const goMod = [
      "module k8s.io/kubernetes",
      "require (",
      "\tk8s.io/api v0.0.0",
      "\tk8s.io/utils v0.0.0-20250604170112-4c0f3b243397",
      ")",
      "replace (",
      "\tk8s.io/api => ./staging/src/k8s.io/api",
      "\tk8s.io/cri-client => ./staging/src/k8s.io/cri-client",
      "\tk8s.io/sample-apiserver => ./staging/src/k8s.io/sample-apiserver",
      "\tk8s.io/sample-controller => ./staging/src/k8s.io/sample-controller",
      ")",
    ].join("\n");
    expect(stagingModules(goMod)).toEqual(["k8s.io/api", "k8s.io/cri-client"]);
  });

  it("takes the staging modules' version from the release's", () => {
    expect(stagingVersion("v1.34.4")).toBe("v0.34.4");
    expect(() => stagingVersion("1.34")).toThrow(/not a Kubernetes release version: 1\.34/);
  });

  it("stamps the release as the release build does, for the components and kubectl", () => {
    const flags = versionStamp("v1.34.4");
    expect(flags).toContain("-X k8s.io/component-base/version.gitVersion=v1.34.4");
    expect(flags).toContain("-X k8s.io/component-base/version.gitMinor=34");
    expect(flags).toContain("-X k8s.io/client-go/pkg/version.gitMajor=1");
    expect(flags).toContain("-X k8s.io/client-go/pkg/version.gitTreeState=clean");
  });
});
