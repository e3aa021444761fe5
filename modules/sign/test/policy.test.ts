import { describe, expect, it } from "vitest";
import { canonical, normalSource, parseRequirement, predicates, unacceptedSource, unmet } from "../src/policy.ts";

const envelope = (predicate: unknown) =>
  JSON.stringify({ payloadType: "application/vnd.in-toto+json", payload: Buffer.from(JSON.stringify({ predicate })).toString("base64") });

describe("environment policy", () => {
  it("parses requirements, and names the accepted forms for anything else", () => {
    expect(parseRequirement("gates:test,scan,secrets")).toEqual({ kind: "gates", gates: ["test", "scan", "secrets"] });
    expect(parseRequirement(" smoke:staging ")).toEqual({ kind: "smoke", environment: "staging" });
    expect(() => parseRequirement("smoke:staging,qa")).toThrow("one smoke:ENV each");
    expect(() => parseRequirement("tests")).toThrow('requirement "tests" is not one: write gates:STAGE[,STAGE...] or smoke:ENVIRONMENT');
  });

  it("compares predicates whatever their key order (cosign returns Go's sorted map keys)", () => {
    expect(canonical({ gates: { test: "passed", lint: "skipped" }, n: [2, { b: 1, a: 0 }] })).toBe(
      canonical({ n: [2, { a: 0, b: 1 }], gates: { lint: "skipped", test: "passed" } }),
    );
    expect(canonical({ a: 1 })).not.toBe(canonical({ a: "1" }));
  });

  it("reads the predicates of cosign's JSON lines, skipping what is not an envelope", () => {
    const out = ["Verification for x --", envelope({ gates: { test: "passed" } }), "", envelope({ environment: "staging" })].join("\n");
    expect(predicates(out)).toEqual([{ gates: { test: "passed" } }, { environment: "staging" }]);
  });

  it("a gates requirement is met when one attestation says every named gate passed", () => {
    const r = parseRequirement("gates:test,scan,secrets");
    expect(unmet(r, [{ gates: { test: "passed", scan: "passed", secrets: "passed", lint: "skipped" } }])).toBeUndefined();
    expect(unmet(r, [{ gates: { test: "skipped", scan: "passed" } }])).toBe(
      "its gates attestation says test skipped, secrets did not run; test, secrets must pass before it is signed",
    );
    expect(unmet(r, [])).toMatch(/^no gates attestation/);
  });

  it("a smoke requirement needs a passed smoke attestation of that environment", () => {
    const r = parseRequirement("smoke:staging");
    expect(unmet(r, [{ environment: "staging", result: "passed" }])).toBeUndefined();
    expect(unmet(r, [{ environment: "qa", result: "passed" }])).toBe(
      "this digest has not passed the smoke checks of staging (no smoke attestation for staging)",
    );
  });

  it("accepts the provenance's source only when it is one of the environment's, compared without credentials or .git", () => {
    const prov = (source: string) => [{ buildDefinition: { externalParameters: { source } } }];
    expect(normalSource("https://u:TOKEN@git.example.com/team/app.git/")).toBe("https://git.example.com/team/app");
    expect(unacceptedSource([], prov("anything"))).toBeUndefined();
    expect(unacceptedSource(["https://git.example.com/team/app"], prov("https://git.example.com/team/app.git"))).toBeUndefined();
    expect(unacceptedSource(["https://git.example.com/team/app"], prov("https://git.example.com/other/app"))).toBe(
      "it was built from https://git.example.com/other/app, not from a source this environment accepts (https://git.example.com/team/app)",
    );
    expect(unacceptedSource(["file:///src/app"], prov(""))).toMatch(/^its provenance names no source repository/);
  });
});
