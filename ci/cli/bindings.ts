/**
 * Client mode runs the module classes in-process and loads no module, so nothing generates the modules they call
 * through `dag` (their dagger.json "dependencies", generated into sdk/ in module mode). bindModules() installs
 * in-process stand-ins of the generated client's shape on the host's `dag`: required arguments positional,
 * optional ones in a trailing opts object, an object result's fields as async methods, core types as they come.
 * They are typed by what the modules declare they call (modules/<name>/src/deps.ts).
 */
import { dag, type Directory } from "@dagger.io/dagger";
import type { Dependencies as DeployDependencies } from "../../modules/deploy/src/deps.ts";
import { Image } from "../../modules/image/src/index.ts";
import { Node } from "../../modules/node/src/index.ts";
import { pinnedImage } from "../../modules/pins/src/index.ts";
import type { Dependencies as NodeDependencies } from "../../modules/node/src/deps.ts";
import { Sbom } from "../../modules/sbom/src/index.ts";
import { Scan } from "../../modules/scan/src/index.ts";
import { Sign } from "../../modules/sign/src/index.ts";
import { Testcontainers } from "../../modules/testcontainers/src/index.ts";
import { clientObject, type Dependencies as RootDependencies, type ImageObject } from "../src/deps.ts";

/** A defaultPath argument (optional in the generated client) is always passed in this process: no module context to default to. */
function sourceOf(o: { source?: Directory }): Directory {
  if (!o.source) throw new Error("no source directory given: client mode has no module context to default to");
  return o.source;
}

/** What the root module and deploy call on sign, together. */
type SignCalls = ReturnType<RootDependencies["sign"]> & ReturnType<DeployDependencies["sign"]>;

/** The pin table, as every module reads it (modules/pins). */
type PinsDependency = { pins(): { image(name: string): Promise<string> } };

const standIns: NodeDependencies &
  DeployDependencies &
  Omit<RootDependencies, "sign"> &
  PinsDependency & { sign(opts?: { image?: string }): SignCalls } = {
  pins: () => ({ image: async (name) => pinnedImage(name) }),
  node: (opts = {}) => {
    const node = new Node(opts.image);
    return {
      lint: (o = {}) => clientObject(() => node.lint(sourceOf(o), o.workspace, o.script)),
      typecheck: (o = {}) => clientObject(() => node.typecheck(sourceOf(o), o.workspace, o.script)),
      test: (o = {}) => clientObject(() => node.test(sourceOf(o), o.workspace, o.registryMirror, o.dockerImage)),
      integration: (o = {}) => clientObject(() => node.integration(sourceOf(o), o.registryMirror, o.dockerImage, o.noCache)),
    };
  },
  image: (opts = {}) => imageObject(new Image(opts.dockerfile)),
  sbom: (opts = {}) => {
    const sbom = new Sbom(opts.image);
    return { generate: (target, o = {}) => sbom.generate(target, o.name) };
  },
  scan: () => {
    const scan = new Scan();
    return {
      vulnerabilities: (target, source, o = {}) =>
        clientObject(() => scan.vulnerabilities(target, source, o.vulnDb, o.failOn, o.allowlist, o.today, o.scanner)),
      secrets: (source) => clientObject(() => scan.secrets(source)),
    };
  },
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
      sign: (ref, key, password, o = {}) =>
        sign.sign(ref, key, password, o.sbom, o.provenance, o.registry, o.tlog, o.scan, o.registryUsername, o.registryPassword),
      attest: (ref, key, password, kind, predicate, o = {}) =>
        sign.attest(ref, key, password, kind, predicate, o.registry, o.registryUsername, o.registryPassword),
      verify: (ref, publicKey, o = {}) => clientObject(() => sign.verify(ref, publicKey, o.registry, o.tlog, o.requires, o.sources)),
      publicKey: (key, password) => sign.publicKey(key, password),
    };
  },
};

/** An Image in the generated calling convention: optional arguments in an options object, builders chained. */
function imageObject(image: Image): ImageObject {
  return {
    dockerfile: async () => image.dockerfile,
    withCommit: (revision, o = {}) => imageObject(image.withCommit(revision, o.created, o.sourceUrl, o.dirty)),
    withPushCredentials: (username, password) => imageObject(image.withPushCredentials(username, password)),
    publish: (source, repository, o = {}) => clientObject(() => image.publish(source, repository, o.allowNoCommit, o.registry)),
  };
}

/** Makes `dag.node()`, `dag.sign()`, ... call the module classes in this process. Idempotent. */
export function bindModules(): void {
  Object.assign(dag, standIns);
}
