/** Deploy environments from the example's dotenv-flow files, and the errors for bad ones. */
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadEnvironment } from "../cli/environments.ts";
import { EXAMPLE, tempDir } from "./helpers.ts";

function withEnvFile(name: string, text: string): string {
  const dir = tempDir("env");
  for (const f of [".env", ".env.staging"]) cpSync(join(EXAMPLE, f), join(dir, f));
  writeFileSync(join(dir, name), text);
  return dir;
}

describe("environments", () => {
  it("staging and production of the example: .env shared, .env.<name> specific, secrets by reference", () => {
    const staging = loadEnvironment(EXAMPLE, "staging");
    expect(staging.settings).toMatchObject({
      app: "node-api",
      strategy: "blue-green",
      replicas: 2,
      listen: "127.0.0.1:18081",
      windowSeconds: 5,
      maxErrorRate: 0.01,
      env: { LOG_LEVEL: "warn" },
      secretNames: ["DATABASE_URL"],
    });
    expect(staging.secrets.DATABASE_URL).toBe("file:/var/cache/slipway/targets/staging/database-url");
    const production = loadEnvironment(EXAMPLE, "production");
    expect(production.settings).toMatchObject({ strategy: "canary", canarySteps: [10, 50, 100], listen: "127.0.0.1:18082" });
    expect(production.dockerHost).toBe("tcp://127.0.0.1:2382");
  });

  it("a .env.<name>.local overrides, as dotenv-flow orders them", () => {
    const dir = withEnvFile(".env.staging.local", "SLIPWAY_STRATEGY=rolling\n");
    expect(loadEnvironment(dir, "staging").settings.strategy).toBe("rolling");
  });

  it("bad files and values fail with file, line or setting and the fix", () => {
    expect(() => loadEnvironment(EXAMPLE, "qa")).toThrow(/^no \.env\.qa in .*: create it with SLIPWAY_DOCKER_HOST/);
    expect(() => loadEnvironment(withEnvFile(".env.staging.local", "SLIPWAY_STRATEGY rolling\n"), "staging")).toThrow(
      /\.env\.staging\.local:1: "SLIPWAY_STRATEGY rolling" is not NAME=value/,
    );
    expect(() => loadEnvironment(withEnvFile(".env.staging.local", "SLIPWAY_STRATEGY=big-bang\n"), "staging")).toThrow(
      "is not a strategy: use rolling, blue-green, canary",
    );
    expect(() => loadEnvironment(withEnvFile(".env.staging.local", "SLIPWAY_APP_SECRET_TOKEN=hunter2\n"), "staging")).toThrow(
      "must say where the secret is (env:VAR or file:PATH), never the value itself",
    );
    expect(() => loadEnvironment(withEnvFile(".env.staging.local", "SLIPWAY_REPLICAS=two\n"), "staging")).toThrow(
      'SLIPWAY_REPLICAS (from .env, .env.staging, .env.staging.local)="two" is not a replica count (1-20)',
    );
  });
});
