import { expect, it } from "vitest";
import { chunk } from "../src/index.ts";

it("chunks a list", () => {
  expect(chunk([1, 2, 3], 2)).toEqual([[1, 2], [3]]);
});
