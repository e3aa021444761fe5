/**
 * Client mode runs the module classes in-process and loads no module, so nothing generates the modules they call
 * through `dag` (their dagger.json "dependencies", generated into sdk/ in module mode). bindModules() installs
 * in-process stand-ins of the generated client's shape on the host's `dag`: required arguments positional,
 * optional ones in a trailing opts object, an object result's fields as async methods, core types as they come.
 * They are typed by what the modules declare they call (modules/<name>/src/deps.ts).
 */
import { dag } from "@dagger.io/dagger";
import type { Dependencies as DeployDependencies } from "../../modules/deploy/src/deps.ts";
import type { Dependencies as NodeDependencies } from "../../modules/node/src/deps.ts";
import { Sign } from "../../modules/sign/src/index.ts";
import { Testcontainers } from "../../modules/testcontainers/src/index.ts";

/** An object a function returns, as the generated client gives it: computed on the first read, each field `await r.field()`. */
type ClientObject<T> = { [K in keyof T]: () => Promise<T[K]> };

function clientObject<T extends object>(compute: () => Promise<T>): ClientObject<T> {
  let value: Promise<T> | undefined;
  // "then" stays undefined: the object is not a promise (`await` must not read it as one)
  return new Proxy({} as ClientObject<T>, {
    get: (_target, key) => (typeof key === "symbol" || key === "then" ? undefined : async () => (await (value ??= compute()))[key as keyof T]),
  });
}

const standIns: NodeDependencies & DeployDependencies = {
  testcontainers: (opts = {}) => {
    const testcontainers = new Testcontainers(opts.image);
    return {
      bind: (ctr, o = {}) => testcontainers.bind(ctr, o.registryMirror),
      underHarness: async (reports, command) => testcontainers.underHarness(reports, command),
    };
  },
  sign: (opts = {}) => {
    const sign = new Sign(opts.image);
    return {
      verify: (ref, publicKey, o = {}) => clientObject(() => sign.verify(ref, publicKey, o.registry, o.tlog)),
    };
  },
};

/** Makes `dag.testcontainers()` and `dag.sign()` call the module classes in this process. Idempotent. */
export function bindModules(): void {
  Object.assign(dag, standIns);
}
