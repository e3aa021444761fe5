// the package's own tests (a config here stops vitest looking further up)
import { defineConfig } from "vitest/config";

export default defineConfig({});
