/**
 * Every image and tool version Slipway uses, in one table (pins.json beside this module's dagger.json): the other
 * modules ask this one for their default images (`dag.pins().image("cosign")`), the offline engine builds and
 * mirrors what it names (ci/platform/versions.ts), and the tests read it. Images are named by tag, as an online
 * user names them; the local mirror's digests are recorded per machine when its images are built
 * (/var/cache/slipway/images/digests.json), since the images are assembled on each machine.
 */
import { func, object } from "@dagger.io/dagger";
import table from "../pins.json" with { type: "json" };

export { table };

/** A name in the table: a base image or a tool. */
export type PinName = keyof typeof table.images | keyof typeof table.tools;

/** The image reference the table pins for name ("cosign" -> "gcr.io/projectsigstore/cosign:v2.6.5"). */
export function pinnedImage(name: string): string {
  const entry = (table.images as Record<string, { image: string }>)[name] ?? (table.tools as Record<string, { image: string }>)[name];
  if (!entry) throw new Error(`no image named ${JSON.stringify(name)} in the pin table: one of ${names().join(", ")}`);
  return entry.image;
}

function names(): string[] {
  return [...Object.keys(table.images), ...Object.keys(table.tools)].sort();
}

@object()
export class Pins {
  /** The image the table pins for name: a base image (node, docker, haproxy, postgres, debian) or a tool (cosign, trivy, ...). */
  @func()
  image(name: string): string {
    return pinnedImage(name);
  }

  /** The names in the table. */
  @func()
  names(): string[] {
    return names();
  }
}
