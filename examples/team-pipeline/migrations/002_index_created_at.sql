CREATE INDEX IF NOT EXISTS team_notes_created_at ON team_notes (created_at);
