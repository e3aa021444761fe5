/** gitleaks' SARIF report as the secrets stage's findings: where each secret is and which rule found it, never its value. */

export interface SecretFinding {
  /** relative to the scanned source */
  file: string;
  line: number;
  column: number;
  /** gitleaks' rule id (aws-access-token, generic-api-key, ...) */
  rule: string;
  severity: "error";
  /** names the rule and what to do; built here, not taken from the report, so that no value can reach it */
  message: string;
}

interface Sarif {
  runs?: {
    results?: {
      ruleId: string;
      locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine?: number; startColumn?: number } } }[];
    }[];
  }[];
}

/**
 * The leaks of a gitleaks SARIF report (a scan of /src). Only the rule id and the location are read: a report's
 * message and snippet can hold the value (when not redacted), so neither is used.
 */
export function gitleaksFindings(sarif: string): SecretFinding[] {
  const doc = JSON.parse(sarif || "{}") as Sarif;
  return (doc.runs?.[0]?.results ?? []).map((r) => {
    const loc = r.locations[0].physicalLocation;
    return {
      file: loc.artifactLocation.uri.replace(/^\/?src\//, ""),
      line: loc.region.startLine ?? 0,
      column: loc.region.startColumn ?? 0,
      rule: r.ruleId,
      severity: "error",
      message: `a secret (${r.ruleId}), value redacted: remove it from the source and rotate it`,
    };
  });
}

/** "config/app.env:3 generic-api-key", as the stage's message names a leak. */
export function leakText(f: SecretFinding): string {
  return `${f.file}:${f.line} ${f.rule}`;
}
