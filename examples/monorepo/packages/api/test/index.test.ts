import { expect, it } from "vitest";
import { priceTag } from "../src/index.ts";

it("labels a price", () => {
  expect(priceTag("tea", 350)).toBe("tea: $3.50");
});
