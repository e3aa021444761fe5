// Written by Slipway's TypeScript runtime: registers this module with the engine, or calls one of its functions.
// Every TypeScript file under src/ is scanned, with the API client generated for the module.
import { entrypoint } from "@dagger.io/dagger";
import { readdirSync } from "node:fs";
import { extname, join } from "node:path";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return [".ts", ".mts"].includes(extname(path)) ? [path] : [];
  });
}

entrypoint([...sources(import.meta.dirname), join(import.meta.dirname, "../sdk/client.gen.ts")]);
