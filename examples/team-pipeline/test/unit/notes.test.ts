import { describe, expect, it } from "vitest";
import { validateText } from "../../src/notes.js";

describe("validateText", () => {
  it("trims text", () => expect(validateText("  hello ")).toBe("hello"));
  it("rejects empty text", () => expect(() => validateText("   ")).toThrow("must not be empty"));
  it("rejects non-strings", () => expect(() => validateText(42)).toThrow("must be a string"));
  it("rejects text over 500 characters", () => expect(() => validateText("x".repeat(501))).toThrow("at most 500"));
});
