#!/usr/bin/env node
// Loads the TypeScript CLI through tsx in this process, so no build step stands between a checkout and `npx slipway`.
import { register } from "tsx/esm/api";

register();
await import("../cli/cli.ts");
