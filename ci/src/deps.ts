/**
 * The modules the root module calls, as its dagger.json declares them ("dependencies"). In module mode the engine
 * generates them into sdk/ (`dag.node()`, ...); in client mode slipway installs in-process stand-ins of the same
 * shape on `dag` (ci/cli/bindings.ts). Typed in the generated calling convention: required arguments positional,
 * optional ones in a trailing opts object, an object's fields read by awaited calls.
 */
import { type Container, dag, type Directory, type File, type Secret, type Service } from "@dagger.io/dagger";

/** A module's stage result (NodeStageResult, ScanStageResult, ...) as a client reads it. */
export interface StageResultObject {
  stage(): Promise<string>;
  status(): Promise<string>;
  message(): Promise<string>;
  cached(): Promise<boolean>;
  /** lazily from the generated client, once computed from a stand-in: await either */
  reports(): Directory | Promise<Directory>;
  findings(): Promise<FindingObject[]>;
}

/**
 * A module's Finding (NodeFinding, ScanFinding, ...) as a client reads it: from the generated client each field is
 * an awaited call; a stand-in's (client mode) is the module's own object, its fields plain values.
 */
export interface FindingObject {
  file: string | (() => Promise<string>);
  line: number | (() => Promise<number>);
  column: number | (() => Promise<number>);
  rule: string | (() => Promise<string>);
  severity: string | (() => Promise<string>);
  message: string | (() => Promise<string>);
}

/** modules/image's Image as a client calls it: the commit and the credentials set by builders, then publish. */
export interface ImageObject {
  dockerfile(): Promise<string>;
  withCommit(revision: string, opts?: { created?: string; sourceUrl?: string; dirty?: boolean }): ImageObject;
  withPushCredentials(username: string, password: Secret): ImageObject;
  publish(
    source: Directory,
    repository: string,
    opts?: { allowNoCommit?: boolean; registry?: Service },
  ): { ref(): Promise<string>; digest(): Promise<string>; tags(): Promise<string[]>; baseImages(): Promise<string[]> };
}

export interface Dependencies {
  /** source has a defaultPath (the caller's own directory), which makes it optional: always pass it */
  node(opts?: { image?: string }): {
    lint(opts?: { source?: Directory; workspace?: string; script?: string }): StageResultObject;
    typecheck(opts?: { source?: Directory; workspace?: string; script?: string }): StageResultObject;
    test(opts?: { source?: Directory; workspace?: string; registryMirror?: Service; dockerImage?: string }): StageResultObject;
    integration(opts?: { source?: Directory; registryMirror?: Service; dockerImage?: string; noCache?: boolean }): StageResultObject;
  };
  image(opts?: { dockerfile?: string }): ImageObject;
  sbom(opts?: { image?: string }): {
    generate(target: Container, opts?: { name?: string }): Directory | Promise<Directory>;
  };
  scan(opts?: object): {
    vulnerabilities(
      target: Container,
      source: Directory,
      opts?: {
        vulnDb?: Directory;
        failOn?: string;
        allowlist?: File;
        today?: string;
        scanner?: string;
      },
    ): StageResultObject;
    secrets(source: Directory): StageResultObject;
  };
  sign(opts?: { image?: string }): {
    sign(
      ref: string,
      key: Secret,
      password: Secret,
      opts?: {
        sbom?: File;
        provenance?: File;
        registry?: Service;
        tlog?: boolean;
        scan?: File;
        registryUsername?: string;
        registryPassword?: Secret;
      },
    ): Promise<string>;
    attest(
      ref: string,
      key: Secret,
      password: Secret,
      kind: "gates" | "smoke",
      predicate: File,
      opts?: { registry?: Service; registryUsername?: string; registryPassword?: Secret },
    ): Promise<string>;
    verify(
      ref: string,
      publicKey: File,
      opts?: { registry?: Service; tlog?: boolean; requires?: string[]; sources?: string[] },
    ): StageResultObject;
    publicKey(key: Secret, password: Secret): File | Promise<File>;
  };
}

export const deps = dag as unknown as Dependencies;

/** An object a function returns, as the generated client gives it: each field read by `await r.field()`. */
export type ClientObject<T> = { [K in keyof T]: () => Promise<T[K]> };

/**
 * An in-process result in that shape (client mode, and the CLI's host stages): computed on the first read.
 * "then" stays undefined: the object is not a promise (`await` must not read it as one).
 */
export function clientObject<T extends object>(compute: () => Promise<T>): ClientObject<T> {
  let value: Promise<T> | undefined;
  return new Proxy({} as ClientObject<T>, {
    get: (_target, key) =>
      typeof key === "symbol" || key === "then" ? undefined : async () => (await (value ??= compute()))[key as keyof T],
  });
}
