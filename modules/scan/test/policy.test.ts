import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe as suite, expect, it } from "vitest";
import {
  describe,
  gate,
  osvFindings,
  parseAllowlist,
  parseSeverity,
  trivyFindings,
  type Vulnerability,
  vulnerabilityFinding,
} from "../src/policy.ts";

const advisory = JSON.parse(readFileSync(join(import.meta.dirname, "../../../ci/test/fixtures/osv/npm/GHSA-35jh-r3h4-6jhm.json"), "utf8"));
const osvOutput = JSON.stringify({
  results: [
    {
      source: { path: "/src/package-lock.json", type: "lockfile" },
      packages: [
        {
          package: { name: "lodash", version: "4.17.20", ecosystem: "npm" },
          vulnerabilities: [advisory],
          groups: [{ ids: [advisory.id], max_severity: "" }],
        },
      ],
    },
  ],
});
const lodash: Vulnerability = osvFindings(osvOutput, "source")[0];

suite("policy gate", () => {
  it("reads package, advisory, aliases, severity and fixed version from OSV-Scanner's JSON", () => {
    expect(lodash).toMatchObject({
      id: "GHSA-35jh-r3h4-6jhm",
      aliases: ["CVE-2021-23337"],
      package: "lodash",
      version: "4.17.20",
      severity: "high",
      fixed: "4.17.21",
      target: "/src/package-lock.json",
    });
    expect(describe(lodash)).toBe("lodash 4.17.20: GHSA-35jh-r3h4-6jhm (CVE-2021-23337), high, fixed in 4.17.21 [/src/package-lock.json]");
  });

  it("a blocking vulnerability as the stage's finding: in its lockfile, or in the image (no file)", () => {
    expect(vulnerabilityFinding(lodash)).toEqual({
      file: "package-lock.json",
      line: 0,
      column: 0,
      rule: "GHSA-35jh-r3h4-6jhm",
      severity: "high",
      message: "lodash 4.17.20: GHSA-35jh-r3h4-6jhm (CVE-2021-23337), high, fixed in 4.17.21",
    });
    expect(vulnerabilityFinding({ ...lodash, target: "image", fixed: "" })).toMatchObject({
      file: "",
      message: "lodash 4.17.20: GHSA-35jh-r3h4-6jhm (CVE-2021-23337), high, no fixed version, in the image",
    });
  });

  it("blocks at or above the threshold, not below; unrated findings block", () => {
    expect(gate([lodash], "high", [], "2026-11-22").blocking).toHaveLength(1);
    expect(gate([lodash], "critical", [], "2026-11-22").below).toHaveLength(1);
    expect(gate([{ ...lodash, severity: "unknown" }], "critical", [], "2026-11-22").blocking).toHaveLength(1);
  });

  it("an allowlist entry lets a finding pass until it expires, by ID or alias", () => {
    const entry = (expires: string, id = "GHSA-35jh-r3h4-6jhm") =>
      parseAllowlist(JSON.stringify([{ id, package: "lodash", reason: "template() not used", expires }]), "allow.json");
    expect(gate([lodash], "high", entry("2026-11-22"), "2026-11-22").allowed).toHaveLength(1);
    expect(gate([lodash], "high", entry("2027-01-01", "CVE-2021-23337"), "2026-11-22").allowed).toHaveLength(1);
    const expired = gate([lodash], "high", entry("2026-11-21"), "2026-11-22");
    expect(expired.blocking).toHaveLength(1);
    expect(expired.expired.map((e) => e.expires)).toEqual(["2026-11-21"]);
  });

  it("refuses allowlist entries without a reason or an expiry, and unknown severities", () => {
    expect(() => parseAllowlist('[{"id":"X","expires":"2027-01-01"}]', "allow.json")).toThrow(
      /allow.json entry 1 \(X\): "reason" is missing/,
    );
    expect(() => parseAllowlist('[{"id":"X","reason":"r"}]', "allow.json")).toThrow(/"expires" must be a date YYYY-MM-DD/);
    expect(() => parseAllowlist("{", "allow.json")).toThrow(/not valid JSON/);
    expect(() => parseSeverity("severe", "--fail-on")).toThrow(/--fail-on: unknown severity "severe": use low, medium, high or critical/);
  });

  it("reads Trivy's JSON: the CVE as ID, the GitHub advisory as alias, the nearest fixed version", () => {
    // the shape of `trivy fs --format json` on a lockfile with lodash 4.17.20
    const report = JSON.stringify({
      SchemaVersion: 2,
      Results: [
        {
          Target: "package-lock.json",
          Class: "lang-pkgs",
          Type: "npm",
          Vulnerabilities: [
            {
              VulnerabilityID: "CVE-2021-23337",
              VendorIDs: ["GHSA-35jh-r3h4-6jhm"],
              PkgName: "lodash",
              InstalledVersion: "4.17.20",
              FixedVersion: "4.17.21, 5.0.1",
              Severity: "HIGH",
              Title: "Command Injection in lodash",
              PkgIdentifier: { PURL: "pkg:npm/lodash@4.17.20" },
            },
          ],
        },
        { Target: "debian 12", Class: "os-pkgs", Type: "debian" },
      ],
    });
    const [f, ...rest] = trivyFindings(report);
    expect(rest).toEqual([]);
    expect(f).toMatchObject({
      id: "CVE-2021-23337",
      aliases: ["GHSA-35jh-r3h4-6jhm"],
      package: "lodash",
      ecosystem: "npm",
      severity: "high",
      fixed: "4.17.21",
      target: "package-lock.json",
    });
    expect(describe(f)).toBe("lodash 4.17.20: CVE-2021-23337 (GHSA-35jh-r3h4-6jhm), high, fixed in 4.17.21 [package-lock.json]");
    expect(trivyFindings(report, "image")[0].target).toBe("image");
    // an allowlist entry by the GitHub advisory ID covers Trivy's CVE-named finding
    const entry = parseAllowlist(JSON.stringify([{ id: "GHSA-35jh-r3h4-6jhm", reason: "r", expires: "2027-01-01" }]), "allow.json");
    expect(gate([f], "high", entry, "2026-11-22").allowed).toHaveLength(1);
    expect(
      trivyFindings(
        JSON.stringify({
          Results: [{ Target: "x", Vulnerabilities: [{ ...JSON.parse(report).Results[0].Vulnerabilities[0], Severity: "WHATEVER" }] }],
        }),
      )[0].severity,
    ).toBe("unknown");
  });
});

suite("GitLab container scanning report", () => {
  it("lists the image's findings with identifiers and a solution; lockfile findings stay out", async () => {
    const { gitlabContainerScanning } = await import("../src/policy.ts");
    const f = {
      id: "CVE-2021-23337",
      aliases: ["GHSA-35jh-r3h4-6jhm"],
      package: "lodash",
      version: "4.17.20",
      ecosystem: "npm",
      severity: "high" as const,
      fixed: "4.17.21",
      summary: "Command injection",
      target: "image",
    };
    const doc = JSON.parse(
      gitlabContainerScanning(
        [f, { ...f, target: "package-lock.json" }],
        "r/app@sha256:1",
        { id: "trivy", name: "Trivy", version: "0.74.0", vendor: "Aqua Security" },
        new Date("2026-01-02T03:04:05.678Z"),
        new Date("2026-01-02T03:04:09Z"),
      ),
    );
    expect(doc.version).toBe("15.0.7");
    expect(doc.scan).toMatchObject({
      type: "container_scanning",
      status: "success",
      start_time: "2026-01-02T03:04:05",
      scanner: { id: "trivy", vendor: { name: "Aqua Security" } },
    });
    expect(doc.vulnerabilities).toHaveLength(1);
    expect(doc.vulnerabilities[0]).toMatchObject({
      name: "CVE-2021-23337",
      severity: "High",
      solution: "Upgrade lodash to 4.17.21",
      location: { dependency: { package: { name: "lodash" }, version: "4.17.20" }, image: "r/app@sha256:1" },
      identifiers: [
        { type: "cve", value: "CVE-2021-23337" },
        { type: "ghsa", value: "GHSA-35jh-r3h4-6jhm" },
      ],
    });
  });
});
