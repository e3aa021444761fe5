/**
 * This module's stage outcome. Each module declares its own (Dagger types belong to one module: this one is
 * SmokeStageResult in the schema, its findings SmokeFinding), with the fields every Slipway stage reports.
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

/** A failed smoke check. CI annotations are made from findings, never from the stage's message. */
@object()
export class Finding {
  /** "" (a check is not in a file). */
  @field() file: string = "";
  /** 0 (a check has no line). */
  @field() line: number = 0;
  /** 0. */
  @field() column: number = 0;
  /** The check's name. */
  @field() rule: string = "";
  /** error. */
  @field() severity: string = "error";
  /** What failed, one line: the method and path, and why (status, body, latency, no response). */
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
  /** What failed, one finding per failed check; empty when the stage passed. */
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
