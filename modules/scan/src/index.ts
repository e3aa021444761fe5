/**
 * Scanning with a policy gate: the image and the lockfiles by Trivy (default) or OSV-Scanner, each against its own
 * vulnerability database (online: downloaded by the scanner; offline: built from advisories by `database`), the
 * source by gitleaks. Reports: the scanner's JSON and SARIF, and findings.json with the gate's decision for each
 * finding.
 */
import { CacheSharingMode, Container, dag, Directory, File, func, object, ReturnType } from "@dagger.io/dagger";
import { StageResult } from "./result.ts";
import {
  describe,
  gate,
  gitlabContainerScanning,
  osvFindings,
  parseAllowlist,
  parseSeverity,
  trivyFindings,
  vulnerabilityFinding,
  type Vulnerability,
} from "./policy.ts";
import { gitleaksFindings, leakText } from "./secrets.ts";

/** The image the pin table names (modules/pins, a dependency in dagger.json): one table for every module. */
function pinned(name: string): Promise<string> {
  return (dag as unknown as { pins(): { image(name: string): Promise<string> } }).pins().image(name);
}

/** How each scanner names itself in reports that ask (GitLab's container scanning report); the version is its image's tag. */
const SCANNER_INFO = {
  trivy: { id: "trivy", name: "Trivy", vendor: "Aqua Security" },
  "osv-scanner": { id: "osv-scanner", name: "OSV-Scanner", vendor: "Google" },
} as const;

/** "ghcr.io/org/tool:v1.2.3" -> "1.2.3" */
function tagVersion(image: string): string {
  return (image.split("@")[0].split(":").pop() ?? "").replace(/^v/, "");
}
export const SCANNERS = ["trivy", "osv-scanner"] as const;
export type Scanner = (typeof SCANNERS)[number];
const DB = "/vuln-db";

export function parseScanner(value: string, where: string): Scanner {
  if (!(SCANNERS as readonly string[]).includes(value)) throw new Error(`${where}: unknown scanner "${value}": use trivy or osv-scanner`);
  return value as Scanner;
}

function lastErrors(stderr: string): string {
  const lines = stderr.trim().split("\n");
  return (
    lines
      .filter((l) => /error|fatal/i.test(l))
      .slice(-2)
      .join(" | ") || lines.slice(-2).join(" | ")
  );
}

/** The tools' images; each empty one is the pinned one (`dagger -m modules/pins call image --name trivy`). */
@object()
export class Scan {
  @func() trivyImage: string;
  /** Trivy's database builder (no upstream image exists: `engine up` builds it into the mirror). */
  @func() trivyDbImage: string;
  @func() osvScannerImage: string;
  @func() gitleaksImage: string;

  constructor(trivyImage: string = "", trivyDbImage: string = "", osvScannerImage: string = "", gitleaksImage: string = "") {
    this.trivyImage = trivyImage;
    this.trivyDbImage = trivyDbImage;
    this.osvScannerImage = osvScannerImage;
    this.gitleaksImage = gitleaksImage;
  }

  /**
   * An offline vulnerability database from advisories: one directory per ecosystem (npm/, Debian/, ...) of OSV
   * JSON files, as the GitHub Advisory Database publishes them.
   * trivy: built by Trivy's own builder (`trivy-db build --only-update ghsa`) into Trivy's cache layout
   * (db/trivy.db, db/metadata.json). osv-scanner: zipped the way OSV-Scanner stores its downloads
   * (osv-scalibr/<ecosystem>/all.zip); every ecosystem in `ecosystems` gets a zip, empty if it has no advisories,
   * because offline OSV-Scanner refuses to run without one.
   */
  @func()
  async database(advisories: Directory, scanner = "trivy", ecosystems: string[] = ["npm", "Debian"]): Promise<Directory> {
    if (parseScanner(scanner, "database") === "trivy") {
      return dag
        .container()
        .from(this.trivyDbImage || (await pinned("trivy-db")))
        .withDirectory("/in/ghsa/advisories/github-reviewed", advisories, { include: ["**/*.json"] })
        .withDirectory("/in/cocoapods-specs/Specs", dag.directory())
        .withExec(["build", "--cache-dir", "/in", "--output-dir", `${DB}/db`, "--only-update", "ghsa"], { useEntrypoint: true })
        .directory(DB);
    }
    const emptyZip = "\\120\\113\\005\\006" + "\\000".repeat(18);
    return dag
      .container()
      .from(await this.image("osv-scanner"))
      .withMountedDirectory("/advisories", advisories)
      .withWorkdir("/advisories")
      .withExec([
        "sh",
        "-ec",
        [
          `for eco in */; do eco=\${eco%/}; mkdir -p ${DB}/osv-scalibr/$eco; (cd $eco && zip -q -r ${DB}/osv-scalibr/$eco/all.zip . -i '*.json'); done`,
          `for eco in ${ecosystems.join(" ")}; do z=${DB}/osv-scalibr/$eco/all.zip; [ -f $z ] || { mkdir -p \${z%/all.zip}; printf '${emptyZip}' > $z; }; done`,
        ].join("\n"),
      ])
      .directory(DB);
  }

  /**
   * Vulnerabilities of the image and of the source's lockfiles. Fails at or above failOn (low, medium, high,
   * critical) unless an allowlist entry with a reason and a future expiry covers the finding.
   * scanner: trivy (default) or osv-scanner.
   * vulnDb: an offline database for that scanner (see `database`); without it the scanner downloads its own
   * (Trivy from ghcr.io/aquasecurity/trivy-db, kept in a cache volume; OSV-Scanner queries osv.dev).
   * allowlist: JSON array of {"id", "package"?, "reason", "expires": "YYYY-MM-DD"}.
   */
  @func()
  async vulnerabilities(
    target: Container,
    source: Directory,
    vulnDb?: Directory,
    failOn = "high",
    allowlist?: File,
    today = "",
    scanner = "trivy",
  ): Promise<StageResult> {
    const threshold = parseSeverity(failOn, "--fail-on");
    const tool = parseScanner(scanner, "--scanner");
    const allow = allowlist ? parseAllowlist(await allowlist.contents(), "the allowlist") : [];
    const day = today || new Date().toISOString().slice(0, 10);
    const start = new Date();
    const image = await this.image(tool);
    const info = { ...SCANNER_INFO[tool], version: tagVersion(image) };
    const {
      reports: raw,
      findings,
      log,
    } = tool === "trivy" ? await this.trivy(image, target, source, vulnDb) : await this.osvScanner(image, target, source, vulnDb);
    const imageRef = (await target.imageRef().catch(() => "")) || "image";
    const reports = raw.withNewFile(
      "gl-container-scanning-report.json",
      gitlabContainerScanning(findings, imageRef, info, start, new Date()),
    );
    const g = gate(findings, threshold, allow, day);
    const decisions = {
      scanner: tool,
      failOn: threshold,
      today: day,
      blocking: g.blocking,
      allowed: g.allowed,
      belowThreshold: g.below,
      expiredAllowlistEntries: g.expired,
    };
    const withDecisions = reports
      .withNewFile("findings.json", JSON.stringify(decisions, null, 2) + "\n")
      .withNewFile("vuln-attestation.json", JSON.stringify(vulnPredicate(info, decisions, start, new Date()), null, 2) + "\n");
    const counts = `${findings.length} finding(s): ${g.blocking.length} blocking, ${g.allowed.length} allowed, ${g.below.length} below ${threshold}`;
    const expiredNote = g.expired.length ? `; expired allowlist entries: ${g.expired.map((e) => `${e.id} (${e.expires})`).join(", ")}` : "";
    if (g.blocking.length) {
      return StageResult.of({
        stage: "scan",
        status: "failed",
        message: `scan: failed, ${counts}: ${g.blocking.map(describe).join("; ")}${expiredNote}`,
        command: tool,
        exitCode: 1,
        output: log,
        reports: withDecisions,
        findings: g.blocking.map(vulnerabilityFinding),
      });
    }
    return StageResult.of({
      stage: "scan",
      status: "passed",
      message: `scan: passed (${counts}, ${tool})${expiredNote}`,
      command: tool,
      output: log,
      reports: withDecisions,
    });
  }

  /** A tool's image: the one given to the constructor, or the pinned one. */
  private async image(tool: "trivy" | "osv-scanner" | "gitleaks"): Promise<string> {
    switch (tool) {
      case "trivy":
        return this.trivyImage || pinned("trivy");
      case "osv-scanner":
        return this.osvScannerImage || pinned("osv-scanner");
      case "gitleaks":
        return this.gitleaksImage || pinned("gitleaks");
    }
  }

  /** Trivy on the image (OS and installed language packages) and on the source (lockfiles): JSON, then SARIF. */
  private async trivy(
    image: string,
    target: Container,
    source: Directory,
    vulnDb?: Directory,
  ): Promise<{ reports: Directory; findings: Vulnerability[]; log: string }> {
    const cache = "/trivy-cache";
    let base = dag
      .container()
      .from(image)
      .withMountedFile("/in/image.tar", target.asTarball())
      .withMountedDirectory("/src", source)
      .withDirectory("/out", dag.directory());
    base = vulnDb
      ? base.withMountedDirectory(cache, vulnDb)
      : base.withMountedCache(cache, dag.cacheVolume("slipway-trivy-db"), { sharing: CacheSharingMode.Locked });
    const common = [
      "--scanners",
      "vuln",
      "--cache-dir",
      cache,
      "--skip-version-check",
      "--disable-telemetry",
      "--quiet",
      ...(vulnDb ? ["--skip-db-update", "--skip-java-db-update", "--offline-scan"] : []),
    ];
    const runs: [string, string[]][] = [
      ["image", ["image", "--input", "/in/image.tar"]],
      ["source", ["fs", "/src"]],
    ];
    let out = base;
    const findings: Vulnerability[] = [];
    for (const [name, args] of runs) {
      const json = `/out/trivy-${name}.json`;
      out = out.withExec([...args, ...common, "--format", "json", "--output", json], { useEntrypoint: true, expect: ReturnType.Any });
      const code = await out.exitCode();
      if (code !== 0) {
        const stderr = await out.stderr();
        if (/trivy-db|DB error|download.*(database|DB)/i.test(stderr)) {
          throw new Error(
            `trivy cannot get its vulnerability database: pass an offline one (--vuln-db DIR, or SLIPWAY_VULN_DB): ${lastErrors(stderr)}`,
          );
        }
        throw new Error(`trivy ${args[0]} failed (exit ${code}): ${lastErrors(stderr)}`);
      }
      out = out.withExec(["convert", "--format", "sarif", "--output", `/out/trivy-${name}.sarif`, json], { useEntrypoint: true });
      findings.push(...trivyFindings(await out.file(json).contents(), name === "image" ? "image" : undefined));
    }
    return { reports: out.directory("/out"), findings, log: "" };
  }

  /** OSV-Scanner on the image archive and on the source's lockfiles, JSON and SARIF each. */
  private async osvScanner(
    image: string,
    target: Container,
    source: Directory,
    vulnDb?: Directory,
  ): Promise<{ reports: Directory; findings: Vulnerability[]; log: string }> {
    let base = dag
      .container()
      .from(image)
      .withMountedFile("/in/image.tar", target.asTarball())
      .withMountedDirectory("/src", source)
      .withDirectory("/out", dag.directory());
    const offline = vulnDb ? ["--offline", "--local-db-path", DB] : [];
    if (vulnDb) base = base.withMountedDirectory(DB, vulnDb);
    const runs: [string, string[]][] = [
      ["image", ["scan", "image", "--archive", "/in/image.tar"]],
      ["source", ["scan", "source", "-r", "/src"]],
    ];
    let out = base;
    const logs: string[] = [];
    for (const [name, args] of runs) {
      for (const format of ["json", "sarif"]) {
        out = out.withExec([...args, ...offline, "--format", format, "--output", `/out/osv-${name}.${format}`], {
          useEntrypoint: true,
          expect: ReturnType.Any,
        });
        const code = await out.exitCode();
        // 0: nothing found, 1: vulnerabilities found, 128: no packages found; anything else is the scanner failing
        if (![0, 1, 128].includes(code)) {
          const stderr = await out.stderr();
          if (/api\.osv\.dev.*(no such host|i\/o timeout|connection refused)/.test(stderr)) {
            throw new Error("osv-scanner cannot reach osv.dev: pass an offline OSV database (--vuln-db DIR, or SLIPWAY_VULN_DB)");
          }
          throw new Error(`osv-scanner ${args.slice(0, 2).join(" ")} failed (exit ${code}): ${lastErrors(stderr)}`);
        }
        if (format === "json") logs.push((await out.stderr()).trim());
      }
    }
    const reports = out.directory("/out");
    const findings = [
      ...osvFindings(await reports.file("osv-image.json").contents(), "image"),
      ...osvFindings(await reports.file("osv-source.json").contents(), "source"),
    ];
    return { reports, findings, log: logs.join("\n") };
  }

  /** Secrets in the source by gitleaks; the report is redacted: no secret value appears in any output. */
  @func()
  async secrets(source: Directory): Promise<StageResult> {
    const run = dag
      .container()
      .from(await this.image("gitleaks"))
      .withMountedDirectory("/src", source)
      .withDirectory("/out", dag.directory())
      .withExec(
        [
          "dir",
          "/src",
          "--redact=100",
          "--no-banner",
          "--exit-code",
          "1",
          "--report-format",
          "sarif",
          "--report-path",
          "/out/gitleaks.sarif",
        ],
        { useEntrypoint: true, expect: ReturnType.Any },
      );
    const code = await run.exitCode();
    const reports = run.directory("/out");
    if (code > 1) throw new Error(`gitleaks failed (exit ${code}): ${(await run.stderr()).trim().split("\n").slice(-2).join(" | ")}`);
    const leaks = gitleaksFindings(await reports.file("gitleaks.sarif").contents());
    if (code === 1) {
      const message = `secrets: failed, ${leaks.length} secret(s) found: ${leaks.map(leakText).join("; ")} (values redacted; remove them from the source and rotate them)`;
      return StageResult.of({
        stage: "secrets",
        status: "failed",
        message,
        command: "gitleaks dir",
        exitCode: 1,
        reports,
        findings: leaks,
      });
    }
    return StageResult.of({
      stage: "secrets",
      status: "passed",
      message: "secrets: passed (no secrets found)",
      command: "gitleaks dir",
      reports,
    });
  }
}

/**
 * The scan as cosign's vulnerability attestation predicate (`cosign attest --type vuln`,
 * https://github.com/sigstore/cosign/blob/main/specs/COSIGN_VULN_ATTESTATION_SPEC.md): the scanner, and as result
 * the gate's decisions, so that a deploy can check that the image it gets was scanned and passed.
 */
function vulnPredicate(scanner: { id: string; version: string }, result: object, started: Date, finished: Date) {
  return {
    invocation: { parameters: null, uri: "", event_id: "", "builder.id": "slipway" },
    scanner: { uri: `pkg:generic/${scanner.id}@${scanner.version}`, version: scanner.version, db: { uri: "", version: "" }, result },
    metadata: { scanStartedOn: started.toISOString(), scanFinishedOn: finished.toISOString() },
  };
}
