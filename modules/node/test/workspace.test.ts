/** Workspace members as npm, yarn and pnpm declare them. Pure. */
import { describe, expect, it } from "vitest";
import { pnpmPackages, workspacePatterns } from "../src/workspace.ts";

describe("workspacePatterns", () => {
  it("reads npm and yarn workspaces from package.json, as a list or {packages}", () => {
    expect(workspacePatterns(JSON.stringify({ workspaces: ["packages/*", "apps/web"] }))).toEqual(["packages/*", "apps/web"]);
    expect(workspacePatterns(JSON.stringify({ workspaces: { packages: ["libs/*"] } }))).toEqual(["libs/*"]);
    expect(workspacePatterns(JSON.stringify({ name: "alone" }))).toEqual([]);
  });

  it("reads pnpm-workspace.yaml when there is one, leaving exclusions out", () => {
    const yaml = [
      "# the members",
      "packages:",
      "  - 'packages/*'",
      '  - "apps/**" # every app',
      "  - tools/cli",
      "  - '!**/test/**'",
      "",
      "onlyBuiltDependencies:",
      "  - esbuild",
    ].join("\n");
    expect(pnpmPackages(yaml)).toEqual(["packages/*", "apps/**", "tools/cli", "!**/test/**"]);
    expect(workspacePatterns(JSON.stringify({ workspaces: ["ignored/*"] }), yaml)).toEqual(["packages/*", "apps/**", "tools/cli"]);
  });

  it("reads a flow list, and no list at all", () => {
    expect(pnpmPackages("packages: ['a/*', b]\n")).toEqual(["a/*", "b"]);
    expect(pnpmPackages("catalog:\n  react: ^19\n")).toEqual([]);
  });
});
