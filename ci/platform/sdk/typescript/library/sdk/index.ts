// @dagger.io/dagger as a module sees it (sdk/index.ts): the SDK's module API from the library, and the API client
// generated for this module (its dependencies included) in client.gen.ts. The same names the official runtime of
// Dagger v0.19.10 exports, no more: a module that passes here imports nothing the official runtime lacks.
export { connection, connect, Context, func, check, argument, object, field, enumType, entrypoint } from "./core.js";
export type { ConnectOpts, CallbackFct } from "./core.js";
export * from "./client.gen.js";
