-- The last Microsoft 365 quarantine notice a task's runs met
-- (state.LastNotice), kept beside last_success until a day old; a task
-- whose state was written before this migration met none it kept.
ALTER TABLE task_state ADD COLUMN last_notice jsonb;
