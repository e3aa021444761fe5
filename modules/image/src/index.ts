/**
 * Build once, deploy many: the image from the project's Dockerfile with OCI labels from the commit, published
 * under the commit's SHA and returned by digest, so every later stage and environment uses the very same bytes.
 *
 * Reproducible: the same commit gives the same digest, also on another engine or after its cache is emptied.
 * Dagger stamps the image config's `created` and `history` with the time its cache made each layer, describes
 * each layer by the step that first made it, and the layer files carry the time the build (or an earlier build
 * the cache kept) wrote them; `publish` sets every time to the commit's with regctl (`regctl image mod
 * --config-time --layer-time`), leaves the descriptions out, and pushes those bytes with regctl.
 */
import { Container, dag, Directory, field, func, object, ReturnType, Secret, Service } from "@dagger.io/dagger";
import { randomUUID } from "node:crypto";
import { tagDigest } from "./registry.ts";
import {
  baseImages,
  buildTime,
  type BuildTime,
  checkRepository,
  finalBaseImage,
  ociLabels,
  pushError,
  tagsFor,
  withoutCacheHistory,
} from "./meta.ts";

export { baseImages, buildTime, type Commit } from "./meta.ts";

/** The OCI layout regctl works in (under /tmp: the upstream image runs as an unprivileged user). */
const LAYOUT = "/tmp/slipway/image";
const BUILT = `ocidir://${LAYOUT}:built`;
const BASE = `ocidir://${LAYOUT}:base`;
const REPRODUCIBLE = `ocidir://${LAYOUT}:reproducible`;
const REGISTRY_ALIAS = "registry";
/**
 * Pushes $IMAGE to every ref given, then prints each ref's digest as the registry serves it. PLAIN_HTTP: a
 * registry host reached over plain HTTP (the caller's loopback registry, through the tunnel). Credentials come in
 * a Docker config.json mounted as a secret ($HOME/.docker/config.json), never in a file regctl writes. A failure ends with "slipway-failed: <step>" on stderr, after
 * regctl's own error. One container for every step: each exec is a container start.
 */
const PUSH = [
  'fail() { echo "slipway-failed: $1" >&2; exit 1; }',
  'if [ -n "${PLAIN_HTTP:-}" ]; then regctl registry set "$PLAIN_HTTP" --tls disabled || fail configure; fi',
  'for ref; do regctl image copy "$IMAGE" "$ref" >&2 || fail "push $ref"; done',
  'for ref; do regctl image digest "$ref" || fail "digest $ref"; done',
].join("\n");

/** The image the pin table names (modules/pins, a dependency in dagger.json): one table for every module. */
function pinned(name: string): Promise<string> {
  return (dag as unknown as { pins(): { image(name: string): Promise<string> } }).pins().image(name);
}

/** What `publish` returns: the digest reference every later stage uses, and the tags it was pushed under. */
@object()
export class Published {
  /** repository@sha256:... */
  @field() ref: string;
  @field() digest: string;
  /** repository:tag for every tag pushed. */
  @field() tags: string[];
  /** The base images the Dockerfile names, by digest (materials for provenance). */
  @field() baseImages: string[];

  constructor(ref: string, digest: string, tags: string[], baseImages: string[]) {
    this.ref = ref;
    this.digest = digest;
    this.tags = tags;
    this.baseImages = baseImages;
  }
}

@object()
export class Image {
  /** Path of the Dockerfile inside the source. */
  @func() dockerfile: string;
  /** The commit the source is (withCommit): labels, tags and the image's time. */
  revision = "";
  created = "";
  sourceUrl = "";
  dirty = false;
  /** Credentials for the registry publish pushes to (withPushCredentials). */
  username = "";
  password?: Secret;

  constructor(dockerfile: string = "Dockerfile") {
    this.dockerfile = dockerfile;
  }

  /**
   * The commit the source is: its SHA (the tags), its time (RFC 3339: the labels' created and every timestamp of the
   * image) and URL (org.opencontainers.image.source). dirty: the source has changes the commit does not hold; its
   * tags then say so.
   */
  @func()
  withCommit(revision: string, created = "", sourceUrl = "", dirty = false): Image {
    return this.with({ revision, created, sourceUrl, dirty });
  }

  /** The user name and password publish logs in to the registry with (the local one needs them to push). */
  @func()
  withPushCredentials(username: string, password: Secret): Image {
    return this.with({ username, password });
  }

  private with(changes: Partial<Image>): Image {
    return Object.assign(Object.create(Image.prototype) as Image, this, changes);
  }

  /**
   * The image built from the source's Dockerfile, labelled with the commit set by withCommit (revision, created = commit time,
   * source URL), with SOURCE_DATE_EPOCH = the commit time as a build argument (RUN steps that declare
   * `ARG SOURCE_DATE_EPOCH` see it). Its timestamps are still the engine's: `publish` makes them the commit's.
   */
  @func()
  async build(source: Directory, title = ""): Promise<Container> {
    await this.dockerfileText(source);
    return this.labelledBuild(source, title, buildTime(this.created));
  }

  /** The build itself, once the Dockerfile is known to exist. */
  private async labelledBuild(source: Directory, title: string, time: BuildTime): Promise<Container> {
    const { revision, created, sourceUrl } = this;
    // the context's files dated at the commit time: COPY keeps their dates, which a checkout sets to its own time
    let ctr = source
      .withTimestamps(time.epoch)
      .dockerBuild({ dockerfile: this.dockerfile, buildArgs: [{ name: "SOURCE_DATE_EPOCH", value: String(time.epoch) }] });
    const labels = ociLabels({ revision, created, source: sourceUrl, dirty: false }, title);
    for (const [k, v] of Object.entries(labels)) if (v) ctr = ctr.withLabel(k, v);
    try {
      return await ctr.sync();
    } catch (err) {
      const output = await this.failedStepOutput(source, time, err).catch(() => undefined);
      throw new Error(buildError(output ? Object.assign(err as object, output) : err, this.dockerfile), { cause: err });
    }
  }

  /**
   * A failed RUN step's command and output: the engine reports only `process "..." did not complete successfully`,
   * so the Dockerfile up to that step is built again (from cache) and the step run on it, where its output is read.
   */
  private async failedStepOutput(
    source: Directory,
    time: BuildTime,
    err: unknown,
  ): Promise<{ cmd: string[]; exitCode: number; stdout: string; stderr: string } | undefined> {
    const failed = /process "(.*)" did not complete successfully: exit code: (\d+)/.exec(firstLine(err));
    if (!failed) return undefined;
    const command = failed[1].replace(/\\"/g, '"');
    const shell = command.startsWith("/bin/sh -c ") ? command.slice("/bin/sh -c ".length) : command;
    const before = linesBeforeRun(await source.file(this.dockerfile).contents(), shell);
    if (before === undefined) return undefined;
    const partial = `${this.dockerfile}.slipway-until-failed`;
    const ctr = source
      .withTimestamps(time.epoch)
      .withNewFile(partial, before)
      .dockerBuild({ dockerfile: partial, buildArgs: [{ name: "SOURCE_DATE_EPOCH", value: String(time.epoch) }] })
      .withExec(["/bin/sh", "-c", shell], { expect: ReturnType.Any });
    const [stdout, stderr, exitCode] = await Promise.all([ctr.stdout(), ctr.stderr(), ctr.exitCode()]);
    return { cmd: ["/bin/sh", "-c", shell], exitCode: exitCode || Number(failed[2]), stdout, stderr };
  }

  /**
   * Builds and pushes the image under the commit's full and short SHA (withCommit); returns the digest reference. A
   * source with no commit is refused unless allowNoCommit (the image is then tagged "no-commit-<content digest>").
   *
   * Reproducible: created (the commit time, RFC 3339) becomes the image's time: the config's `created` and every
   * `history[].created` are set to it, and so is the date of every file in the layers the Dockerfile adds (the
   * base image's layers stay as pulled). So the same commit gives the same digest on any engine, cold or warm, as
   * long as the Dockerfile's RUN steps write the same bytes. With no commit (created empty) that time is
   * 1970-01-01T00:00:00Z (SOURCE_DATE_EPOCH=0).
   * A commit published before (every tag already at the digest built, read from the registry) is not pushed again.
   * registry: a tunnel to a registry only the caller's host reaches (e.g. tcp://localhost:5000); repositories
   * naming localhost or 127.0.0.1 are pushed through it.
   * Cached for the caller's session only: a caller reads the result's fields (ref, digest, baseImages) in queries of
   * their own, each of which would otherwise build and push again, concurrently; a new session pushes again.
   */
  @func({ cache: "session" })
  async publish(source: Directory, repository: string, allowNoCommit = false, registry?: Service): Promise<Published> {
    const { revision, created, sourceUrl, dirty, username, password } = this;
    checkRepository(repository);
    const time = buildTime(created);
    let tags: string[];
    if (revision) {
      tags = tagsFor({ revision, created, source: sourceUrl, dirty });
    } else if (allowNoCommit) {
      tags = [`no-commit-${(await source.digest()).replace(/^sha256:/, "").slice(0, 12)}`];
    } else {
      throw new Error("the source has no git commit, so the image cannot be tagged by SHA: commit it, or pass --allow-no-commit");
    }
    const { host, target } = pushTarget(repository, registry);
    const dockerfile = await this.dockerfileText(source); // read once: it checks the file and names the base images
    const built = await this.labelledBuild(source, repository.split("/").pop()!, time);
    const { layout, digest } = await this.reproducible(built, time, finalBaseImage(dockerfile));

    const published = async () => {
      const bases = await Promise.all(baseImages(dockerfile).map((ref) => dag.container().from(ref).imageRef()));
      return new Published(
        `${repository}@${digest}`,
        digest,
        tags.map((t) => `${repository}:${t}`),
        bases,
      );
    };
    // every tag already at this digest (the same commit published before): nothing to push
    const current = await Promise.all(tags.map((tag) => tagDigest(repository, tag)));
    if (current.every((d) => d === digest)) return published();

    const refs = tags.map((tag) => `${target}:${tag}`);
    let push = (await this.regctl())
      .withMountedDirectory(LAYOUT, layout)
      .withEnvVariable("IMAGE", `ocidir://${LAYOUT}@${digest}`)
      // a push acts on the registry as it is now: never served from cache
      .withEnvVariable("SLIPWAY_RUN", `${Date.now()}-${Math.random()}`);
    if (target !== repository) push = push.withServiceBinding(REGISTRY_ALIAS, registry!).withEnvVariable("PLAIN_HTTP", host);
    if (password) push = push.withMountedSecret("/tmp/.docker/config.json", await dockerConfig(host, username, password));
    const pushed = push.withExec(["sh", "-c", PUSH, "push", ...refs], { expect: ReturnType.Any });
    const [code, stdout, stderr] = await Promise.all([pushed.exitCode(), pushed.stdout(), pushed.stderr()]).catch((err) => {
      throw new Error(`push to ${repository} failed: ${firstLine(err)}: check that the regctl image is served (slipway engine up)`);
    });
    if (code !== 0) throw new Error(pushError(stderr, repository, target));
    const digests = stdout.trim().split("\n");
    tags.forEach((tag, i) => {
      if (digests[i] !== digest) {
        throw new Error(
          `${repository}:${tag} points to ${digests[i]} after the push, not to the pushed ${digest}: another push to the same tag raced this one; publish again`,
        );
      }
    });
    return published();
  }

  /**
   * The built image as an OCI layout with every timestamp at the commit time, and its manifest's digest. regctl
   * sets the config's created and every history entry's (the engine dates them by when its cache made each layer,
   * base layers included) and the date of every file in the layers the Dockerfile adds: a layer the cache kept
   * from an earlier build carries that build's dates, a fresh one today's; both become the commit time. The base
   * image's layers stay as pulled (regctl skips those of `base`, the last stage's FROM, exported by the same
   * engine); when the Dockerfile does not tell its base, every layer is dated. Then the history's
   * cache-dependent descriptions go (withoutCacheHistory). A pure function of image, base and time: cached.
   */
  private async reproducible(built: Container, time: BuildTime, base: string | undefined): Promise<{ layout: Directory; digest: string }> {
    const t = time.rfc3339;
    let ctr = (await this.regctl())
      .withMountedFile("/tmp/in/image.tar", built.asTarball())
      .withExec(["regctl", "image", "import", BUILT, "/tmp/in/image.tar"]);
    let layerTime = `set=${t}`;
    if (base && base !== "scratch") {
      ctr = ctr
        .withMountedFile("/tmp/in/base.tar", dag.container().from(base).asTarball())
        .withExec(["regctl", "image", "import", BASE, "/tmp/in/base.tar"]);
      layerTime += `,base-ref=${BASE}`;
    }
    const modded = await run(
      ctr,
      ["regctl", "image", "mod", BUILT, "--create", "reproducible", "--config-time", `set=${t}`, "--layer-time", layerTime],
      "regctl could not set the image's timestamps to the commit time",
      "check that the regctl image is served (slipway engine up)",
    );
    const layout = modded.directory(LAYOUT);
    const blob = (digest: string) => `blobs/${digest.replace(":", "/")}`;
    const manifest = await layout
      .file(blob((await modded.withExec(["regctl", "image", "digest", REPRODUCIBLE]).stdout()).trim()))
      .contents();
    const image = withoutCacheHistory(manifest, await layout.file(blob(JSON.parse(manifest).config.digest)).contents());
    return {
      layout: layout.withNewFile(blob(image.configDigest), image.config).withNewFile(blob(image.digest), image.manifest),
      digest: image.digest,
    };
  }

  private async regctl(): Promise<Container> {
    return dag
      .container()
      .from(await pinned("regctl")) // a shell and regctl on PATH
      .withEnvVariable("HOME", "/tmp");
  }

  private async dockerfileText(source: Directory): Promise<string> {
    try {
      return await source.file(this.dockerfile).contents();
    } catch {
      throw new Error(`no ${this.dockerfile} in the source: add one, or pass --dockerfile PATH (relative to the source)`);
    }
  }
}

/**
 * Where regctl pushes: the repository itself, or for one on the caller's loopback (localhost, 127.0.0.1) the
 * same path on the registry tunnel's alias. host: the registry to log in to.
 */
function pushTarget(repository: string, registry?: Service): { host: string; target: string } {
  const first = repository.split("/")[0];
  const host = repository.includes("/") && /[.:]|^localhost$/.test(first) ? first : "docker.io";
  const m = /^(localhost|127\.0\.0\.1)(:\d+)?\//.exec(repository);
  if (!m) return { host, target: repository };
  if (!registry)
    throw new Error(`${repository} is on this host's loopback: pass the registry as a service (--registry tcp://localhost${m[2] ?? ""})`);
  return { host: `${REGISTRY_ALIAS}${m[2] ?? ""}`, target: `${REGISTRY_ALIAS}${m[2] ?? ""}/${repository.slice(m[0].length)}` };
}

/** A Docker config.json with the credentials for host, as a secret: regctl reads it from $HOME/.docker. */
async function dockerConfig(host: string, username: string, password: Secret): Promise<Secret> {
  const auth = Buffer.from(`${username}:${await password.plaintext()}`).toString("base64");
  return dag.setSecret(`registry-auth-${randomUUID()}`, JSON.stringify({ auths: { [host]: { auth } } }));
}

/** ctr with one more regctl step that must succeed; a failure is one line naming the fix. */
async function run(ctr: Container, args: string[], what: string, fix = "see the message above"): Promise<Container> {
  const next = ctr.withExec(args, { expect: ReturnType.Any });
  let code: number;
  try {
    code = await next.exitCode();
  } catch (err) {
    // a step before this one failed (or the image could not be pulled)
    throw new Error(`${what}: ${firstLine(err)}: ${fix}`, { cause: err });
  }
  if (code !== 0) throw new Error(`${what}: ${lastLine(await next.stderr())}: ${fix}`);
  return next;
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).pop() ?? "no output";
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0].replace(/\s*\[traceparent:[^\]]*\]/, "");
}

/** A build failure as one line that names the fix; a failed RUN step also gets its last output lines. */
export function buildError(err: unknown, dockerfile: string): string {
  const msg = firstLine(err);
  const frontend = /failed to resolve source metadata for (docker\.io\/docker\/dockerfile[^:]*:[^:\s]*)/.exec(msg);
  if (frontend) {
    return `${dockerfile} asks for the frontend image ${frontend[1]} (a "# syntax=" line) and no registry serves it: remove the line; the engine's built-in Dockerfile frontend is used`;
  }
  const base = /failed to resolve source metadata for (\S+?):?\s.*not found/.exec(msg);
  if (base) {
    const name = base[1].replace(/^docker\.io\/(library\/)?/, "");
    return `docker build of ${dockerfile} failed: its base image ${name} is not found (resolve source metadata for ${base[1]}: not found): no registry the engine reaches serves it; offline, bring it in with \`slipway engine import FILE\` (a \`docker save\` of it)`;
  }
  const exec = err as { cmd?: unknown; exitCode?: unknown; stdout?: unknown; stderr?: unknown };
  if (Array.isArray(exec.cmd) && typeof exec.exitCode === "number") {
    const step = exec.cmd.join(" ").replace(/^\/bin\/sh -c /, "");
    const output = `${String(exec.stdout ?? "")}\n${String(exec.stderr ?? "")}`
      .split("\n")
      .map((l) => l.trimEnd())
      .filter(Boolean)
      .slice(-RUN_OUTPUT_LINES);
    return `docker build of ${dockerfile} failed at RUN ${step} (exit code ${exec.exitCode})${output.length ? `; its last output:\n${output.join("\n")}` : ""}`;
  }
  return `docker build of ${dockerfile} failed: ${msg}`;
}

/**
 * The Dockerfile's text before the RUN instruction whose command is `command` (continuation lines joined, spaces
 * collapsed), or undefined when no instruction matches.
 */
export function linesBeforeRun(dockerfile: string, command: string): string | undefined {
  const norm = (t: string) => t.replace(/\s+/g, " ").trim();
  const lines = dockerfile.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*RUN\s/i.test(lines[i])) continue;
    let text = lines[i];
    let j = i;
    while (/\\\s*$/.test(lines[j]) && j + 1 < lines.length) text = text.replace(/\\\s*$/, " ") + lines[++j];
    const body = text.replace(/^\s*RUN\s+/i, "").replace(/^(--\S+\s+)+/, "");
    if (norm(body) === norm(command)) return lines.slice(0, i).join("\n") + "\n";
  }
  return undefined;
}

/** How many of a failed RUN step's last output lines a build failure shows. */
const RUN_OUTPUT_LINES = 12;
