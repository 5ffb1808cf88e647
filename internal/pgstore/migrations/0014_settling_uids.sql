-- The UIDs the rules' IMAP search left out that are not done until a
-- later search still leaves them out (state.Settling), with when each
-- was first seen; a task whose state was written before this migration
-- has none settling, and what it left out is done already.
ALTER TABLE task_state ADD COLUMN settling_uids jsonb;
