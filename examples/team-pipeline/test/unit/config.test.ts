import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";

describe("loadConfig", () => {
  it("reads the environment with defaults", () => {
    expect(loadConfig({ DATABASE_URL: "postgres://u:p@db/app" })).toEqual({
      port: 3000, host: "0.0.0.0", databaseUrl: "postgres://u:p@db/app", logLevel: "info",
    });
  });

  it("names the variable and the fix when DATABASE_URL is missing", () => {
    expect(() => loadConfig({})).toThrow(/DATABASE_URL is not set/);
  });

  it("rejects a port out of range", () => {
    expect(() => loadConfig({ DATABASE_URL: "x", PORT: "70000" })).toThrow(/PORT="70000"/);
  });
});
