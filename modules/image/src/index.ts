/**
 * Build once, deploy many: the image from the project's Dockerfile with OCI labels from the commit, published
 * under the commit's SHA and returned by digest, so every later stage and environment uses the very same bytes.
 */
import { Container, dag, Directory, field, func, object, Secret } from "@dagger.io/dagger";
import { baseImages, checkRepository, type Commit, ociLabels, tagsFor } from "./meta.ts";

export { baseImages, type Commit } from "./meta.ts";

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

  constructor(dockerfile: string = "Dockerfile") {
    this.dockerfile = dockerfile;
  }

  /**
   * The image built from the source's Dockerfile, labelled with the commit (revision, created = commit time,
   * source URL). The engine's cache makes a rebuild of the same commit the same image, digest included.
   */
  @func()
  async build(source: Directory, revision: string, created: string, sourceUrl: string, title = ""): Promise<Container> {
    await this.dockerfileText(source);
    return this.labelledBuild(source, revision, created, sourceUrl, title);
  }

  /** The build itself, once the Dockerfile is known to exist. */
  private async labelledBuild(source: Directory, revision: string, created: string, sourceUrl: string, title: string): Promise<Container> {
    let ctr = source.dockerBuild({ dockerfile: this.dockerfile });
    const labels = ociLabels({ revision, created, source: sourceUrl, dirty: false }, title);
    for (const [k, v] of Object.entries(labels)) if (v) ctr = ctr.withLabel(k, v);
    try {
      return await ctr.sync();
    } catch (err) {
      throw new Error(buildError(err, this.dockerfile));
    }
  }

  /**
   * Builds and pushes the image under the commit's full and short SHA; returns the digest reference. A source with
   * no commit is refused unless allowNoCommit (the image is then tagged "no-commit-<content digest>").
   */
  @func({ cache: "never" })
  async publish(
    source: Directory,
    repository: string,
    revision = "",
    created = "",
    sourceUrl = "",
    dirty = false,
    allowNoCommit = false,
    username = "",
    password?: Secret,
  ): Promise<Published> {
    checkRepository(repository);
    let tags: string[];
    if (revision) {
      tags = tagsFor({ revision, created, source: sourceUrl, dirty });
    } else if (allowNoCommit) {
      tags = [`no-commit-${(await source.digest()).replace(/^sha256:/, "").slice(0, 12)}`];
    } else {
      throw new Error("the source has no git commit, so the image cannot be tagged by SHA: commit it, or pass --allow-no-commit");
    }
    const dockerfile = await this.dockerfileText(source); // read once: it checks the file and names the base images
    let ctr = await this.labelledBuild(source, revision, created, sourceUrl, repository.split("/").pop()!);
    if (password) ctr = ctr.withRegistryAuth(repository.split("/")[0], username, password);
    let digestRef = "";
    for (const tag of tags) {
      try {
        digestRef = await ctr.publish(`${repository}:${tag}`);
      } catch (err) {
        throw new Error(`push to ${repository}:${tag} failed (${firstLine(err)}): check that the registry is reachable and the credentials (--username, --password) are right`);
      }
    }
    const digest = digestRef.slice(digestRef.indexOf("@") + 1);
    const bases = await Promise.all(baseImages(dockerfile).map((ref) => dag.container().from(ref).imageRef()));
    return new Published(`${repository}@${digest}`, digest, tags.map((t) => `${repository}:${t}`), bases);
  }

  private async dockerfileText(source: Directory): Promise<string> {
    try {
      return await source.file(this.dockerfile).contents();
    } catch {
      throw new Error(`no ${this.dockerfile} in the source: add one, or pass --dockerfile PATH (relative to the source)`);
    }
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0].replace(/\s*\[traceparent:[^\]]*\]/, "");
}

/** A build failure as one line that names the fix. */
function buildError(err: unknown, dockerfile: string): string {
  const msg = firstLine(err);
  const frontend = /failed to resolve source metadata for (docker\.io\/docker\/dockerfile[^:]*:[^:\s]*)/.exec(msg);
  if (frontend) {
    return `${dockerfile} asks for the frontend image ${frontend[1]} (a "# syntax=" line) and no registry serves it: remove the line; the engine's built-in Dockerfile frontend is used`;
  }
  return `docker build of ${dockerfile} failed: ${msg}`;
}
