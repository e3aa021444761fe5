/** SBOM of an image by Syft: CycloneDX JSON and SPDX JSON, from the image's own layers (no registry access). */
import { Container, dag, Directory, func, object } from "@dagger.io/dagger";

/** Syft, by its upstream image name (served by the mirror offline). */
export const SYFT_IMAGE = "anchore/syft:v1.50.0";

@object()
export class Sbom {
  /** The Syft image. */
  @func() image: string;

  constructor(image: string = SYFT_IMAGE) {
    this.image = image;
  }

  /** sbom.cdx.json (CycloneDX 1.6) and sbom.spdx.json (SPDX 2.3) of the image. */
  @func()
  generate(target: Container, name = "image"): Directory {
    return dag
      .container()
      .from(this.image)
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
