/** Prices in cents, formatted for people. */
export function formatPrice(cents: number): string {
  if (!Number.isInteger(cents) || cents < 0) throw new RangeError("cents must be a non-negative integer");
  return `$${(cents / 100).toFixed(2)}`;
}
