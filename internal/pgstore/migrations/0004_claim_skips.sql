-- The nodes that pass a task over when they claim due tasks: they do not
-- have it in their configuration, or watch it with idle (claimed for as
-- long as they watch, not by its schedule). A claim no longer names the
-- tasks a node has, which cost a poll in proportion to their number.
ALTER TABLE tasks ADD COLUMN skipped_by text[] NOT NULL DEFAULT '{}';
