/** The notes repository: the service's only table, through node-postgres; its schema is migrations/ (the pipeline's migrate stages apply it). */
import type { Pool } from "pg";

export interface Note {
  id: number;
  text: string;
  createdAt: string;
}

export function validateText(text: unknown): string {
  if (typeof text !== "string") throw new RangeError("text must be a string");
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new RangeError("text must not be empty");
  if (trimmed.length > 500) throw new RangeError("text must be at most 500 characters");
  return trimmed;
}

export class Notes {
  constructor(private readonly pool: Pool) {}

  async add(text: string): Promise<Note> {
    const r = await this.pool.query(
      "INSERT INTO team_notes (text) VALUES ($1) RETURNING id, text, created_at",
      [validateText(text)],
    );
    return toNote(r.rows[0]);
  }

  async list(limit = 50): Promise<Note[]> {
    const r = await this.pool.query("SELECT id, text, created_at FROM team_notes ORDER BY id DESC LIMIT $1", [limit]);
    return r.rows.map(toNote);
  }
}

function toNote(row: { id: number; text: string; created_at: Date }): Note {
  return { id: row.id, text: row.text, createdAt: row.created_at.toISOString() };
}
