/**
 * The policy gate over scanner findings: a severity threshold, and an allowlist whose every entry carries a
 * reason and an expiry date (an expired entry no longer allows anything).
 */
import { createHash } from "node:crypto";

export const SEVERITIES = ["unknown", "low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Vulnerability {
  id: string;
  aliases: string[];
  package: string;
  version: string;
  ecosystem: string;
  severity: Severity;
  fixed: string;
  summary: string;
  /** What was scanned: "image" or the lockfile's path. */
  target: string;
}

export interface AllowEntry {
  id: string;
  package?: string;
  reason: string;
  expires: string;
}

export function parseSeverity(value: string, where: string): Severity {
  const s = value.toLowerCase() as Severity;
  if (!SEVERITIES.includes(s) || s === "unknown")
    throw new Error(`${where}: unknown severity "${value}": use low, medium, high or critical`);
  return s;
}

function severityOf(vuln: OsvVuln, groupScore: string | undefined): Severity {
  const db = String(vuln.database_specific?.severity ?? "").toLowerCase();
  if (db === "moderate") return "medium";
  if ((SEVERITIES as readonly string[]).includes(db)) return db as Severity;
  const score = Number(groupScore);
  if (!groupScore || Number.isNaN(score)) return "unknown";
  return score >= 9 ? "critical" : score >= 7 ? "high" : score >= 4 ? "medium" : score > 0 ? "low" : "unknown";
}

interface OsvVuln {
  id: string;
  aliases?: string[];
  summary?: string;
  database_specific?: { severity?: string };
  affected?: { package?: { name?: string; ecosystem?: string }; ranges?: { events?: Record<string, string>[] }[] }[];
}
interface OsvOutput {
  results?: {
    source?: { path?: string };
    packages?: {
      package: { name: string; version: string; ecosystem: string };
      vulnerabilities?: OsvVuln[];
      groups?: { ids: string[]; max_severity?: string }[];
    }[];
  }[];
}

/** Findings from OSV-Scanner's JSON output. */
export function osvFindings(json: string, target: string): Vulnerability[] {
  const out: Vulnerability[] = [];
  const doc = JSON.parse(json || "{}") as OsvOutput;
  for (const result of doc.results ?? []) {
    for (const p of result.packages ?? []) {
      for (const v of p.vulnerabilities ?? []) {
        const group = p.groups?.find((g) => g.ids.includes(v.id));
        const fixed = (v.affected ?? [])
          .filter((a) => a.package?.name === p.package.name)
          .flatMap((a) => a.ranges ?? [])
          .flatMap((r) => r.events ?? [])
          .map((e) => e.fixed)
          .filter(Boolean);
        out.push({
          id: v.id,
          aliases: v.aliases ?? [],
          package: p.package.name,
          version: p.package.version,
          ecosystem: p.package.ecosystem,
          severity: severityOf(v, group?.max_severity),
          fixed: fixed[0] ?? "",
          summary: v.summary ?? "",
          target: target === "source" ? (result.source?.path ?? target) : target,
        });
      }
    }
  }
  return out;
}

interface TrivyOutput {
  Results?: {
    Target: string;
    Vulnerabilities?: {
      VulnerabilityID: string;
      VendorIDs?: string[];
      PkgName: string;
      InstalledVersion: string;
      FixedVersion?: string;
      Severity?: string;
      Title?: string;
      PkgIdentifier?: { PURL?: string };
    }[];
  }[];
}

/**
 * Findings from Trivy's JSON report. Trivy names a finding by its CVE where one exists and lists the GitHub
 * advisory among VendorIDs; both match allowlist entries. target: "image", or undefined to use Trivy's own
 * (the lockfile's path relative to the scanned directory).
 */
export function trivyFindings(json: string, target?: string): Vulnerability[] {
  const doc = JSON.parse(json || "{}") as TrivyOutput;
  return (doc.Results ?? []).flatMap((result) =>
    (result.Vulnerabilities ?? []).map((v) => {
      const severity = (v.Severity ?? "unknown").toLowerCase();
      const ecosystem = /^pkg:([^/]+)\//.exec(v.PkgIdentifier?.PURL ?? "")?.[1] ?? "";
      return {
        id: v.VulnerabilityID,
        aliases: (v.VendorIDs ?? []).filter((id) => id !== v.VulnerabilityID),
        package: v.PkgName,
        version: v.InstalledVersion,
        ecosystem,
        severity: (SEVERITIES as readonly string[]).includes(severity) ? (severity as Severity) : "unknown",
        // Trivy lists every fixed release line ("4.17.21, 5.0.1"); the first is the nearest
        fixed: (v.FixedVersion ?? "").split(",")[0].trim(),
        summary: v.Title ?? "",
        target: target ?? result.Target,
      };
    }),
  );
}

/** Reads and checks an allowlist (JSON array); errors name the entry and the fix. */
export function parseAllowlist(text: string, where: string): AllowEntry[] {
  let entries: unknown;
  try {
    entries = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where} is not valid JSON (${(err as Error).message}): fix the file`, { cause: err });
  }
  if (!Array.isArray(entries)) throw new Error(`${where} must be a JSON array of {id, reason, expires[, package]} entries`);
  return entries.map((e, i) => {
    const at = `${where} entry ${i + 1}`;
    if (!e || typeof e.id !== "string" || !e.id) throw new Error(`${at}: "id" (the advisory ID, e.g. GHSA-xxxx-xxxx-xxxx) is missing`);
    if (typeof e.reason !== "string" || !e.reason.trim())
      throw new Error(`${at} (${e.id}): "reason" is missing: say why the risk is accepted`);
    if (typeof e.expires !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(e.expires) || Number.isNaN(Date.parse(e.expires))) {
      throw new Error(`${at} (${e.id}): "expires" must be a date YYYY-MM-DD: every exception ends`);
    }
    return { id: e.id, package: e.package, reason: e.reason, expires: e.expires };
  });
}

export interface GateResult {
  blocking: Vulnerability[];
  allowed: { finding: Vulnerability; entry: AllowEntry }[];
  expired: AllowEntry[];
  below: Vulnerability[];
}

/** Applies the threshold and the allowlist; `today` is YYYY-MM-DD (an entry expiring today still applies). */
export function gate(findings: Vulnerability[], failOn: Severity, allowlist: AllowEntry[], today: string): GateResult {
  const threshold = SEVERITIES.indexOf(failOn);
  const expired = allowlist.filter((e) => e.expires < today);
  const active = allowlist.filter((e) => e.expires >= today);
  const r: GateResult = { blocking: [], allowed: [], expired, below: [] };
  for (const f of findings) {
    const entry = active.find((e) => (e.id === f.id || f.aliases.includes(e.id)) && (!e.package || e.package === f.package));
    // unknown severity blocks: a finding nobody rated is not a finding below the threshold
    if (SEVERITIES.indexOf(f.severity) < threshold && f.severity !== "unknown") r.below.push(f);
    else if (entry) r.allowed.push({ finding: f, entry });
    else r.blocking.push(f);
  }
  return r;
}

/** "lodash 4.17.20: GHSA-35jh-r3h4-6jhm (CVE-2021-23337), high, fixed in 4.17.21" */
function summarize(f: Vulnerability): string {
  const aliases = f.aliases.length ? ` (${f.aliases.join(", ")})` : "";
  return `${f.package} ${f.version}: ${f.id}${aliases}, ${f.severity}, ${f.fixed ? `fixed in ${f.fixed}` : "no fixed version"}`;
}

/** "lodash 4.17.20: GHSA-35jh-r3h4-6jhm (CVE-2021-23337), high, fixed in 4.17.21 [package-lock.json]" */
export function describe(f: Vulnerability): string {
  return `${summarize(f)} [${f.target}]`;
}

/**
 * A blocking vulnerability as the stage's finding: file the lockfile it came from (relative to the source), or ""
 * for a package of the image (the message then says so); rule the advisory id; the message names the package, its
 * version and the fixed version.
 */
export function vulnerabilityFinding(f: Vulnerability): {
  file: string;
  line: number;
  column: number;
  rule: string;
  severity: string;
  message: string;
} {
  const file = f.target === "image" ? "" : f.target.replace(/^\/src\//, "");
  return { file, line: 0, column: 0, rule: f.id, severity: f.severity, message: file ? summarize(f) : `${summarize(f)}, in the image` };
}

/**
 * GitLab's container scanning report (security report schema 15): the image's findings, so merge requests show
 * them in GitLab's security widget. Times are the scan's start and end, as GitLab's schema writes them.
 */
export function gitlabContainerScanning(
  findings: Vulnerability[],
  image: string,
  scanner: { id: string; name: string; version: string; vendor: string },
  start: Date,
  end: Date,
): string {
  const time = (d: Date) => d.toISOString().slice(0, 19);
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  const tool = { id: scanner.id, name: scanner.name, version: scanner.version, vendor: { name: scanner.vendor } };
  const vulnerabilities = findings
    .filter((f) => f.target === "image")
    .map((f) => {
      const ids = [f.id, ...f.aliases];
      return {
        id: createHash("sha256").update(`${image}|${f.package}|${f.version}|${f.id}`).digest("hex"),
        name: f.id,
        description: f.summary || f.id,
        severity: cap(f.severity),
        solution: f.fixed ? `Upgrade ${f.package} to ${f.fixed}` : "No fixed version yet",
        location: { dependency: { package: { name: f.package }, version: f.version }, operating_system: "unknown", image },
        identifiers: ids.map((id) =>
          id.startsWith("CVE-")
            ? { type: "cve", name: id, value: id, url: `https://nvd.nist.gov/vuln/detail/${id}` }
            : {
                type: id.split("-")[0].toLowerCase(),
                name: id,
                value: id,
                url: id.startsWith("GHSA-") ? `https://github.com/advisories/${id}` : `https://osv.dev/vulnerability/${id}`,
              },
        ),
      };
    });
  return (
    JSON.stringify(
      {
        version: "15.0.7",
        scan: {
          type: "container_scanning",
          status: "success",
          start_time: time(start),
          end_time: time(end),
          scanner: tool,
          analyzer: tool,
        },
        vulnerabilities,
        remediations: [],
      },
      null,
      2,
    ) + "\n"
  );
}
