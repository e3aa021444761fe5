/** The GitOps edit: a kustomization's `images` override for one image, everything else (comments too) kept. */
import { parseDocument } from "yaml";

/**
 * Sets (or adds) the `images` entry for `name` to newName `repository` and `digest` (sha256:...), dropping any
 * tag, as `kustomize edit set image name=repository@digest` does.
 */
export function setKustomizeImage(text: string, name: string, repository: string, digest: string): string {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(`kustomization.yaml does not parse: ${doc.errors[0].message.split("\n")[0]}`);
  const images = (doc.get("images") as { items?: unknown[] } | undefined)?.items?.length
    ? (doc.toJS().images as Record<string, string>[])
    : [];
  const entry = { name, newName: repository, digest };
  const index = images.findIndex((i) => i.name === name);
  if (index >= 0) doc.setIn(["images", index], doc.createNode(entry));
  else doc.set("images", doc.createNode([...images, entry]));
  return doc.toString();
}
