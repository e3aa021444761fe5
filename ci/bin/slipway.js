#!/usr/bin/env node
// Runs the CLI from its ahead-of-time bundle (node_modules/.cache/slipway/, see bundle.mjs), rebuilt first when a
// file it was built from changed, so no build step stands between a checkout and `npx slipway` and no start runs
// stale code. Without a bundle (read-only checkout, failed build, SLIPWAY_BUNDLE=off) it loads the TypeScript
// sources through tsx.
import { pathToFileURL } from "node:url";
import { bundledEntry } from "./bundle.mjs";

const entry = await bundledEntry();
if (entry) {
  await import(pathToFileURL(entry).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../cli/cli.ts");
}
