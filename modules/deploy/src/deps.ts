/**
 * The modules this one calls, as dagger.json declares them ("dependencies"). In module mode the engine generates
 * them into sdk/ (`dag.sign()`); in client mode slipway installs in-process stand-ins of the same shape on `dag`
 * (ci/cli/bindings.ts). Typed here in the generated calling convention (required arguments positional, optional
 * ones in a trailing opts object, an object's fields read by awaited calls) so that tsc on the host checks the calls.
 */
import { dag, type File, type Service } from "@dagger.io/dagger";

export interface Dependencies {
  /** The pin table (modules/pins): the images this module runs by default. */
  pins(): { image(name: string): Promise<string> };
  sign(opts?: { image?: string }): {
    verify(
      ref: string,
      publicKey: File,
      opts?: { registry?: Service; tlog?: boolean; requires?: string[]; sources?: string[] },
    ): { status(): Promise<string>; message(): Promise<string> };
  };
}

export const deps = dag as unknown as Dependencies;

/** The pin table. */
export const pins = (): ReturnType<Dependencies["pins"]> => deps.pins();
