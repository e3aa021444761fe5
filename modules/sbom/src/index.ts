/** SBOM of an image by Syft: CycloneDX JSON and SPDX JSON, from the image's own layers (no registry access). */
import { Container, dag, Directory, func, object } from "@dagger.io/dagger";

/** The image the pin table names (modules/pins, a dependency in dagger.json): one table for every module. */
function pinned(name: string): Promise<string> {
  return (dag as unknown as { pins(): { image(name: string): Promise<string> } }).pins().image(name);
}

@object()
export class Sbom {
  /** The Syft image; empty: the pinned one (`dagger -m modules/pins call image --name syft`). */
  @func() image: string;

  constructor(image: string = "") {
    this.image = image;
  }

  /** sbom.cdx.json (CycloneDX 1.6) and sbom.spdx.json (SPDX 2.3) of the image. */
  @func()
  async generate(target: Container, name = "image"): Promise<Directory> {
    return dag
      .container()
      .from(this.image || (await pinned("syft")))
      .withMountedFile("/in/image.tar", target.asTarball())
      .withDirectory("/out", dag.directory())
      .withEnvVariable("SYFT_CHECK_FOR_APP_UPDATE", "false")
      .withExec(
        [
          "scan",
          "oci-archive:/in/image.tar",
          "--source-name",
          name,
          "--quiet",
          "-o",
          "cyclonedx-json=/out/sbom.cdx.json",
          "-o",
          "spdx-json=/out/sbom.spdx.json",
        ],
        { useEntrypoint: true },
      )
      .directory("/out");
  }
}
