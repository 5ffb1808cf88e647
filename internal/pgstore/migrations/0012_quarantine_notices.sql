-- The Microsoft 365 quarantine notices a run met (state.Run), beside its
-- other counts; a run recorded before this migration met none it knew of.
ALTER TABLE runs ADD COLUMN quarantine_notices integer NOT NULL DEFAULT 0;
