/**
 * This module's stage outcome. Each module declares its own (Dagger types belong to one module: this one is
 * SmokeStageResult in the schema), with the fields every Slipway stage reports.
 */
import { Directory, field, object } from "@dagger.io/dagger";

@object()
export class StageResult {
  @field() stage: string;
  /** passed or failed. */
  @field() status: string;
  /** One line: what ran and what failed. */
  @field() message: string;
  @field() command: string;
  @field() exitCode: number;
  @field() output: string;
  /** Reports in standard formats; exported even when the stage fails. */
  @field() reports: Directory;
  /** Whether the engine served the stage from its cache: not measured here, always false. */
  @field() cached: boolean;

  constructor(stage: string, status: string, message: string, command: string, exitCode: number, output: string, reports: Directory) {
    this.stage = stage;
    this.status = status;
    this.message = message;
    this.command = command;
    this.exitCode = exitCode;
    this.output = output;
    this.reports = reports;
    this.cached = false;
  }
}
