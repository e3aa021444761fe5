/** Brings the real engine up before the suite (the same idempotent `slipway engine up`), or fails loudly. */
import { useEngine } from "../platform/connection.ts";

export default async function setup(): Promise<void> {
  const how = await useEngine({ quiet: process.env.SLIPWAY_QUIET === "1", tools: "foreground" }); // every tool image before any test
  process.stderr.write(`tests use the Dagger engine at ${how}\n`);
}
