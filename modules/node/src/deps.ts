/**
 * The modules this one calls, as dagger.json declares them ("dependencies"). In module mode the engine generates
 * them into sdk/ (`dag.testcontainers()`); in client mode slipway installs in-process stand-ins of the same shape
 * on `dag` (ci/cli/bindings.ts). Typed here in the generated calling convention (required arguments positional,
 * optional ones in a trailing opts object) so that tsc on the host checks the calls.
 */
import { type Container, dag, type Service } from "@dagger.io/dagger";

export interface Dependencies {
  testcontainers(opts?: { image?: string }): {
    /** The generated client returns the Container lazily, the in-process stand-in once bound: await either. */
    bind(ctr: Container, opts?: { registryMirror?: Service }): Container | Promise<Container>;
    underHarness(reports: string, command: string[]): Promise<string[]>;
  };
}

export const deps = dag as unknown as Dependencies;
