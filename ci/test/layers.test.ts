/**
 * The layering of Slipway's own code, lowest first; each layer imports only from itself and the layers below:
 *   modules/<name>   each module alone (ci/test/module-boundaries.test.ts checks its directory); modules/pins
 *                    holds the pin table, pins.json, which the other modules read through it
 *   ci/platform      the offline platform: engine, registry, images, builtin SDKs, local deploy targets; it
 *                    reads the pin table
 *   ci/src           the root module (module mode gives it ci/ alone: nothing below it but modules via dag)
 *   ci/cli           the slipway CLI: everything above
 * and nothing imports in a cycle. Pure: reads files.
 */
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { ROOT, sourceFiles } from "./helpers.ts";

/** Every file's relative imports (static and dynamic), as paths from the repository root. */
function graph(): Map<string, string[]> {
  const files = ["ci/platform", "ci/src", "ci/cli", "ci/test", "ci/bench", "modules"].flatMap((d) =>
    sourceFiles(join(ROOT, d), ["node_modules", "sdk", "fixtures"]),
  );
  return new Map(
    files.map((f) => [
      relative(ROOT, f),
      ts
        .preProcessFile(readFileSync(f, "utf8"), true, true)
        .importedFiles.map((i) => i.fileName)
        .filter((s) => s.startsWith("."))
        .map((s) => relative(ROOT, resolve(dirname(f), s))),
    ]),
  );
}

/** What each layer may import (path prefixes from the repository root); a file outside every layer may import anything. */
function allowed(file: string): string[] | undefined {
  const module = /^modules\/[^/]+\//.exec(file)?.[0];
  if (module) return [module];
  // the pin table is data at the bottom: the platform reads it, as the modules do through the pins module
  if (file.startsWith("ci/platform/")) return ["ci/platform/", "modules/pins/pins.json"];
  if (file.startsWith("ci/src/")) return ["ci/src/"];
  if (file.startsWith("ci/cli/")) return ["ci/cli/", "ci/src/", "ci/platform/", "modules/"];
  return undefined;
}

function cycles(g: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (f: string) => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "open") {
      found.push([...path.slice(path.indexOf(f)), f]);
      return;
    }
    state.set(f, "open");
    path.push(f);
    for (const to of g.get(f) ?? []) if (g.has(to)) visit(to);
    path.pop();
    state.set(f, "done");
  };
  for (const f of [...g.keys()].sort()) visit(f);
  return found;
}

describe("layers", () => {
  const g = graph();

  it("each layer imports only from itself and the layers below", () => {
    const breaches = [...g].flatMap(([file, imports]) => {
      const ok = allowed(file);
      return ok ? imports.filter((i) => !ok.some((p) => i.startsWith(p))).map((i) => `${file} imports ${i}`) : [];
    });
    expect(breaches).toEqual([]);
  });

  it("no import cycle", () => {
    expect(cycles(g).map((c) => c.join(" -> "))).toEqual([]);
  });

  it("finds breaches and cycles where there are some", () => {
    const bad = new Map([
      ["ci/platform/a.ts", ["ci/cli/b.ts"]],
      ["ci/cli/b.ts", ["ci/platform/a.ts"]],
      ["ci/src/c.ts", ["ci/platform/engine.ts"]],
    ]);
    expect(allowed("ci/src/c.ts")).not.toContain("ci/platform/engine.ts");
    expect(cycles(bad).map((c) => c.join(" -> "))).toEqual(["ci/cli/b.ts -> ci/platform/a.ts -> ci/cli/b.ts"]);
  });
});
