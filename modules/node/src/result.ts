/** The outcome of a code stage: what a user checks (status, message), the output, and the reports to export. */
import { Directory, field, object } from "@dagger.io/dagger";

export type Status = "passed" | "failed" | "not-configured";

@object()
export class StageResult {
  /** lint, typecheck or test. */
  @field() stage: string;
  /** passed, failed or not-configured (the project declares nothing to run: not a failure). */
  @field() status: string;
  /** One line: what ran and what failed, with file:line or test names. */
  @field() message: string;
  /** The command that ran (empty when not configured). */
  @field() command: string;
  @field() exitCode: number;
  /** The tool's output (stdout then stderr). */
  @field() output: string;
  /** Reports in standard formats (JUnit XML); exported even when the stage fails. */
  @field() reports: Directory;
  /** The engine served the stage's command from its cache (it did not run again). */
  @field() cached: boolean;

  constructor(stage: string, status: Status, message: string, command: string, exitCode: number, output: string, reports: Directory, cached = false) {
    this.stage = stage;
    this.status = status;
    this.message = message;
    this.command = command;
    this.exitCode = exitCode;
    this.output = output;
    this.reports = reports;
    this.cached = cached;
  }
}
