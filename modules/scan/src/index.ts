/**
 * Scanning with a policy gate: the image and the lockfiles by OSV-Scanner against an OSV database (online: osv.dev;
 * offline: a directory of per-ecosystem zips, see `database`), the source by gitleaks. Reports: the scanners'
 * JSON and SARIF, and findings.json with the gate's decision for each finding.
 */
import { Container, dag, Directory, File, func, object, ReturnType } from "@dagger.io/dagger";
import { StageResult } from "../../node/src/result.ts";
import { describe, type Finding, gate, osvFindings, parseAllowlist, parseSeverity } from "./policy.ts";

/** The scanners, by their upstream image names (served by the mirror offline). */
export const OSV_SCANNER_IMAGE = "ghcr.io/google/osv-scanner:v2.6.0";
export const GITLEAKS_IMAGE = "zricethezav/gitleaks:v8.30.1";
const DB = "/osv-db";

@object()
export class Scan {
  @func() osvScannerImage: string;
  @func() gitleaksImage: string;

  constructor(osvScannerImage: string = OSV_SCANNER_IMAGE, gitleaksImage: string = GITLEAKS_IMAGE) {
    this.osvScannerImage = osvScannerImage;
    this.gitleaksImage = gitleaksImage;
  }

  /**
   * An offline OSV database from advisories: one directory per ecosystem (npm/, Debian/, ...) of OSV JSON files,
   * zipped the way OSV-Scanner stores what it downloads (osv-scalibr/<ecosystem>/all.zip).
   */
  @func()
  database(advisories: Directory, ecosystems: string[] = ["npm", "Debian"]): Directory {
    // every ecosystem the scan meets needs a zip offline, so those without advisories get an empty one
    const emptyZip = "\\120\\113\\005\\006" + "\\000".repeat(18);
    return dag.container().from(this.osvScannerImage)
      .withMountedDirectory("/advisories", advisories)
      .withWorkdir("/advisories")
      .withExec(["sh", "-ec", [
        `for eco in */; do eco=\${eco%/}; mkdir -p ${DB}/osv-scalibr/$eco; (cd $eco && zip -q -r ${DB}/osv-scalibr/$eco/all.zip . -i '*.json'); done`,
        `for eco in ${ecosystems.join(" ")}; do z=${DB}/osv-scalibr/$eco/all.zip; [ -f $z ] || { mkdir -p \${z%/all.zip}; printf '${emptyZip}' > $z; }; done`,
      ].join("\n")])
      .directory(DB);
  }

  /**
   * Vulnerabilities of the image and of the source's lockfiles. Fails at or above failOn (low, medium, high,
   * critical) unless an allowlist entry with a reason and a future expiry covers the finding.
   * vulnDb: an offline database (see `database`); without it OSV-Scanner queries osv.dev.
   * allowlist: JSON array of {"id", "package"?, "reason", "expires": "YYYY-MM-DD"}.
   */
  @func()
  async vulnerabilities(target: Container, source: Directory, vulnDb?: Directory, failOn = "high", allowlist?: File, today = ""): Promise<StageResult> {
    const threshold = parseSeverity(failOn, "--fail-on");
    const allow = allowlist ? parseAllowlist(await allowlist.contents(), "the allowlist") : [];
    const day = today || new Date().toISOString().slice(0, 10);
    let base = dag.container().from(this.osvScannerImage)
      .withMountedFile("/in/image.tar", target.asTarball())
      .withMountedDirectory("/src", source)
      .withDirectory("/out", dag.directory());
    const offline = vulnDb ? ["--offline", "--local-db-path", DB] : [];
    if (vulnDb) base = base.withMountedDirectory(DB, vulnDb);
    const runs: [string, string[]][] = [["image", ["scan", "image", "--archive", "/in/image.tar"]], ["source", ["scan", "source", "-r", "/src"]]];
    let out = base;
    const logs: string[] = [];
    for (const [name, args] of runs) {
      for (const format of ["json", "sarif"]) {
        out = out.withExec([...args, ...offline, "--format", format, "--output", `/out/osv-${name}.${format === "json" ? "json" : "sarif"}`], { useEntrypoint: true, expect: ReturnType.Any });
        const code = await out.exitCode();
        // 0: nothing found, 1: vulnerabilities found, 128: no packages found; anything else is the scanner failing
        if (![0, 1, 128].includes(code)) {
          const stderr = await out.stderr();
          if (/api\.osv\.dev.*(no such host|i\/o timeout|connection refused)/.test(stderr)) {
            throw new Error("osv-scanner cannot reach osv.dev: pass an offline OSV database (--vuln-db DIR, or SLIPWAY_VULN_DB)");
          }
          const err = stderr.trim().split("\n").filter((l) => /error/i.test(l)).slice(-2).join(" | ") || stderr.trim().split("\n").slice(-2).join(" | ");
          throw new Error(`osv-scanner ${args.slice(0, 2).join(" ")} failed (exit ${code}): ${err}`);
        }
        if (format === "json") logs.push((await out.stderr()).trim());
      }
    }
    const reports = out.directory("/out");
    const findings: Finding[] = [
      ...osvFindings(await reports.file("osv-image.json").contents(), "image"),
      ...osvFindings(await reports.file("osv-source.json").contents(), "source"),
    ];
    const g = gate(findings, threshold, allow, day);
    const decisions = {
      failOn: threshold, today: day,
      blocking: g.blocking, allowed: g.allowed, belowThreshold: g.below, expiredAllowlistEntries: g.expired,
    };
    const withDecisions = reports.withNewFile("findings.json", JSON.stringify(decisions, null, 2) + "\n");
    const counts = `${findings.length} finding(s): ${g.blocking.length} blocking, ${g.allowed.length} allowed, ${g.below.length} below ${threshold}`;
    const expiredNote = g.expired.length ? `; expired allowlist entries: ${g.expired.map((e) => `${e.id} (${e.expires})`).join(", ")}` : "";
    if (g.blocking.length) {
      return new StageResult("scan", "failed", `scan: failed, ${counts}: ${g.blocking.map(describe).join("; ")}${expiredNote}`, "osv-scanner", 1, logs.join("\n"), withDecisions);
    }
    return new StageResult("scan", "passed", `scan: passed (${counts})${expiredNote}`, "osv-scanner", 0, logs.join("\n"), withDecisions);
  }

  /** Secrets in the source by gitleaks; the report is redacted: no secret value appears in any output. */
  @func()
  async secrets(source: Directory): Promise<StageResult> {
    const run = dag.container().from(this.gitleaksImage)
      .withMountedDirectory("/src", source)
      .withDirectory("/out", dag.directory())
      .withExec(["dir", "/src", "--redact=100", "--no-banner", "--exit-code", "1",
        "--report-format", "sarif", "--report-path", "/out/gitleaks.sarif"], { useEntrypoint: true, expect: ReturnType.Any });
    const code = await run.exitCode();
    const reports = run.directory("/out");
    if (code > 1) throw new Error(`gitleaks failed (exit ${code}): ${(await run.stderr()).trim().split("\n").slice(-2).join(" | ")}`);
    const sarif = JSON.parse(await reports.file("gitleaks.sarif").contents());
    const leaks: string[] = (sarif.runs?.[0]?.results ?? []).map((r: { ruleId: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }) => {
      const loc = r.locations[0].physicalLocation;
      return `${loc.artifactLocation.uri.replace(/^\/?src\//, "")}:${loc.region.startLine} ${r.ruleId}`;
    });
    if (code === 1) {
      return new StageResult("secrets", "failed", `secrets: failed, ${leaks.length} secret(s) found: ${leaks.join("; ")} (values redacted; remove them from the source and rotate them)`, "gitleaks dir", 1, "", reports);
    }
    return new StageResult("secrets", "passed", "secrets: passed (no secrets found)", "gitleaks dir", 0, "", reports);
  }
}
