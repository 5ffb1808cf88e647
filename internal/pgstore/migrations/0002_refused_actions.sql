-- What the file store's state gained beside cluster mode (issue 19): the
-- moves the server copied and refused to remove, and its last refusal of
-- a due action; and the counts of a run the history did not keep.
ALTER TABLE task_state
	ADD COLUMN pending_removal_uids text NOT NULL DEFAULT '',
	ADD COLUMN action_refused       text NOT NULL DEFAULT '';

ALTER TABLE runs
	ADD COLUMN known     integer NOT NULL DEFAULT 0,
	ADD COLUMN unmatched integer NOT NULL DEFAULT 0,
	ADD COLUMN held      integer NOT NULL DEFAULT 0;
UPDATE runs SET unmatched = seen - matched;
