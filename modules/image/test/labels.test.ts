/** The image's OCI labels never carry a credential from the source URL, whoever passes it in. */
import { describe, expect, it } from "vitest";
import { ociLabels, publicUrl } from "../src/meta.ts";

describe("OCI labels", () => {
  it("the source label is the URL without userinfo, query or fragment", () => {
    const labels = ociLabels(
      { revision: "a".repeat(40), created: "", source: "https://u:TOKEN@host/r.git?access_token=TOKEN#TOKEN", dirty: false },
      "app",
    );
    expect(labels["org.opencontainers.image.source"]).toBe("https://host/r.git");
    expect(JSON.stringify(labels)).not.toContain("TOKEN");
  });

  it("keeps URLs that carry nothing", () => {
    for (const url of ["https://github.com/o/r.git", "git@github.com:o/r.git", "file:///work/r"]) expect(publicUrl(url)).toBe(url);
  });
});
