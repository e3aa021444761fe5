/**
 * This module's stage outcome. Each module declares its own (Dagger types belong to one module: this one is
 * ScanStageResult in the schema, its findings ScanFinding), with the fields every Slipway stage reports.
 */
import { Directory, field, object } from "@dagger.io/dagger";

/** A Finding's fields as plain data (what Finding.of takes): omitted ones are "" or 0. */
export interface FindingFields {
  file?: string;
  line?: number;
  column?: number;
  rule?: string;
  severity?: string;
  message: string;
}

/** A blocking vulnerability or a leaked secret. CI annotations are made from findings, never from the stage's message. */
@object()
export class Finding {
  /**
   * The file, relative to the source: the lockfile a vulnerable package comes from, the file a secret is in; "" for
   * a package of the image (the message names the package and its version).
   */
  @field() file: string = "";
  /** 1-based line of a secret; 0 for a vulnerability. */
  @field() line: number = 0;
  /** 1-based column of a secret; 0 when unknown. */
  @field() column: number = 0;
  /** The advisory id (GHSA-..., CVE-...) of a vulnerability; gitleaks' rule id (aws-access-token, ...) of a secret. */
  @field() rule: string = "";
  /** A vulnerability's severity (low, medium, high, critical, unknown); error for a secret. */
  @field() severity: string = "error";
  /** What is wrong, one line: the package, its version and the fixed version; a secret's rule, never its value. */
  @field() message: string = "";

  static of(f: FindingFields): Finding {
    const finding = new Finding();
    finding.file = f.file ?? "";
    finding.line = f.line ?? 0;
    finding.column = f.column ?? 0;
    finding.rule = f.rule ?? "";
    finding.severity = f.severity ?? "error";
    finding.message = f.message;
    return finding;
  }
}

@object()
export class StageResult {
  @field() stage: string = "";
  /** passed or failed. */
  @field() status: string = "";
  /** One line: what ran and what failed. */
  @field() message: string = "";
  @field() command: string = "";
  @field() exitCode: number = 0;
  @field() output: string = "";
  /** Reports in standard formats; exported even when the stage fails. */
  @field() reports!: Directory;
  /** Whether the engine served the stage from its cache: not measured here, always false. */
  @field() cached: boolean = false;
  /** What failed, one finding each (blocking vulnerabilities, leaked secrets); empty when the stage passed. */
  @field() findings: Finding[] = [];

  static of(r: {
    stage: string;
    status: "passed" | "failed";
    message: string;
    command?: string;
    exitCode?: number;
    output?: string;
    reports: Directory;
    cached?: boolean;
    findings?: FindingFields[];
  }): StageResult {
    const result = new StageResult();
    result.stage = r.stage;
    result.status = r.status;
    result.message = r.message;
    result.command = r.command ?? "";
    result.exitCode = r.exitCode ?? 0;
    result.output = r.output ?? "";
    result.reports = r.reports;
    result.cached = r.cached ?? false;
    result.findings = (r.findings ?? []).map((f) => Finding.of(f));
    return result;
  }
}
