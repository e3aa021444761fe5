/** The outcome of a code stage: what a user checks (status, message), the output, and the reports to export. */
import { Directory, field, object } from "@dagger.io/dagger";

export type Status = "passed" | "failed" | "not-configured";

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
 * One thing a stage found wrong, where it is: a lint or type error at file:line:column, a failing test in its
 * test file. CI annotations are made from these, never from the stage's message.
 */
@object()
export class Finding {
  /** The file, relative to the source; "" when the finding is in no file of the source. */
  @field() file: string = "";
  /** 1-based; 0 when unknown (a failing test). */
  @field() line: number = 0;
  /** 1-based; 0 when unknown. */
  @field() column: number = 0;
  /** The tool's rule: ESLint's rule id, tsc's TSxxxx; "" for a failing test. */
  @field() rule: string = "";
  /** error (only errors fail a stage). */
  @field() severity: string = "error";
  /** What is wrong, one line, without the location: "suite > test failed" for a failing test. */
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
  /** lint, typecheck or test. */
  @field() stage: string = "";
  /** passed, failed or not-configured (the project declares nothing to run: not a failure). */
  @field() status: string = "";
  /** One line: what ran and what failed, with file:line or test names. */
  @field() message: string = "";
  /** The command that ran (empty when not configured). */
  @field() command: string = "";
  @field() exitCode: number = 0;
  /** The tool's output (stdout then stderr). */
  @field() output: string = "";
  /** Reports in standard formats (JUnit XML); exported even when the stage fails. */
  @field() reports!: Directory;
  /** The engine served the stage's command from its cache (it did not run again). */
  @field() cached: boolean = false;
  /** What failed, one finding each (lint and type errors, failing tests); empty when the stage passed. */
  @field() findings: Finding[] = [];

  static of(r: {
    stage: string;
    status: Status;
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
