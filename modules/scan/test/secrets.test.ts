import { describe, expect, it } from "vitest";
import { gitleaksFindings, leakText } from "../src/secrets.ts";

const VALUE = "AKIAZ3MSJV4WWNKWW5FG";

/** gitleaks' SARIF as it would be without --redact: the value in the message and the snippet. */
const sarif = JSON.stringify({
  runs: [
    {
      tool: { driver: { name: "gitleaks" } },
      results: [
        {
          ruleId: "aws-access-token",
          message: { text: `aws-access-token has detected secret for file /src/config/app.env: ${VALUE}` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: "/src/config/app.env" },
                region: { startLine: 3, startColumn: 19, endLine: 3, endColumn: 38, snippet: { text: VALUE } },
              },
            },
          ],
          partialFingerprints: { commitSha: "", email: "", author: "", date: "", commitMessage: "" },
        },
      ],
    },
  ],
});

describe("gitleaksFindings", () => {
  it("a finding per leak: file, line, column and rule", () => {
    const [leak, ...rest] = gitleaksFindings(sarif);
    expect(rest).toEqual([]);
    expect(leak).toMatchObject({ file: "config/app.env", line: 3, column: 19, rule: "aws-access-token", severity: "error" });
    expect(leakText(leak)).toBe("config/app.env:3 aws-access-token");
  });

  it("never carries the secret's value, even from an unredacted report", () => {
    const [leak] = gitleaksFindings(sarif);
    expect(JSON.stringify(leak)).not.toContain(VALUE);
    expect(JSON.stringify(leak)).not.toContain(VALUE.slice(0, 8));
    expect(leak.message).toBe("a secret (aws-access-token), value redacted: remove it from the source and rotate it");
  });

  it("no results, no findings", () => {
    expect(gitleaksFindings(JSON.stringify({ runs: [{ results: [] }] }))).toEqual([]);
  });
});
