import { describe, expect, it } from "vitest";
import { Deploy } from "../src/index.ts";

const staging = () => new Deploy().environment("staging", "node-api");

describe("DeployEnvironment: an environment built with withX()", () => {
  it("carries every setting to the controller, secrets by name only", () => {
    const env = staging()
      .withStrategy("canary")
      .withReplicas(3)
      .withHealthCheck("/ready", 30)
      .withGate(5, 0.05)
      .withCanarySteps([25, 100])
      .withEnvVariable("LOG_LEVEL", "debug")
      .withEnvVariable("LOG_LEVEL", "info");
    expect(JSON.parse(env.settings("r/app@sha256:1"))).toEqual({
      app: "node-api",
      environment: "staging",
      image: "r/app@sha256:1",
      strategy: "canary",
      replicas: 3,
      listen: "",
      appPort: 0,
      healthPath: "/ready",
      healthTimeoutSeconds: 30,
      windowSeconds: 5,
      maxErrorRate: 0.05,
      canarySteps: [25, 100],
      env: { LOG_LEVEL: "info" },
      secretNames: [],
    });
  });
  it("leaves the environment it was built from as it was", () => {
    const base = staging();
    base.withStrategy("blue-green").withReplicas(5);
    expect(JSON.parse(base.settings())).toMatchObject({ strategy: "rolling", replicas: 2 });
  });
  it.each([
    [() => new Deploy().environment("Staging", "app"), /environment "Staging" is not a name/],
    [() => new Deploy().environment("staging", "my app"), /app "my app" is not a container name/],
    [() => staging().withStrategy("big-bang"), /strategy "big-bang" is not one: use rolling, blue-green, canary/],
    [() => staging().withReplicas(0), /replicas 0 is not a replica count \(1-20\)/],
    [() => staging().withGate(10, 5), /max error rate 5 is not between 0 and 1/],
    [() => staging().withCanarySteps([50, 10]), /canary steps="50,10" is not a list of rising percentages ending at 100/],
    [() => staging().withHealthCheck("/health\nserver evil 1.2.3.4:80"), /health path .* is not a URL path/],
    [() => staging().withEnvVariable("BAD-NAME", "x"), /"BAD-NAME" is not an environment variable name/],
    [() => staging().withGitops("git://h/m.git", ".", "main; rm -rf /"), /gitops branch "main; rm -rf \/" is not a branch name/],
    [() => staging().withGitops("file:///etc"), /gitops remote "file:\/\/\/etc" is not a git URL/],
  ])("refuses bad input with one line naming it (%#)", (build, message) => {
    expect(build).toThrow(message);
  });
  it("refuses to deploy without a target", async () => {
    await expect(staging().deploy("r/app@sha256:1", undefined as never)).rejects.toThrow(
      "environment staging has no target: call withDockerHost, withSshHost or withGitops first",
    );
  });
});
