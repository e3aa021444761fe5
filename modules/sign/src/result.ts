/**
 * This module's stage outcome. Each module declares its own (Dagger types belong to one module: this one is
 * SignStageResult in the schema, its findings SignFinding), with the fields every Slipway stage reports.
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

/**
 * One thing a stage found wrong (CI annotations are made from findings, never from the stage's message). This
 * module's stages report none: their failure has one reason, in the stage's message. Declared for the fields every
 * Slipway stage result has.
 */
@object()
export class Finding {
  /** "" when the finding is in no file. */
  @field() file: string = "";
  /** 1-based; 0 when unknown. */
  @field() line: number = 0;
  /** 1-based; 0 when unknown. */
  @field() column: number = 0;
  /** The rule or check that failed. */
  @field() rule: string = "";
  /** error. */
  @field() severity: string = "error";
  /** What is wrong, one line. */
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
  /** Always empty: a failure here has one reason, in the message. */
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
