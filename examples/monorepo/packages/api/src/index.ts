import { formatPrice } from "@monorepo/core";

/** A price tag for the catalogue API, built on core's formatting. */
export function priceTag(name: string, cents: number): string {
  return `${name}: ${formatPrice(cents)}`;
}
