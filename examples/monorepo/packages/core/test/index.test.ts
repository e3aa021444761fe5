import { expect, it } from "vitest";
import { formatPrice } from "../src/index.ts";

it("formats cents as dollars", () => {
  expect(formatPrice(1999)).toBe("$19.99");
  expect(() => formatPrice(-1)).toThrow(RangeError);
});
