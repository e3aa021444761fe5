// @dagger.io/dagger/telemetry as a module sees it.
import { getTracer } from "./core.js";

export { getTracer };
