-- Rows updated in place, where every run made dead ones (issue 23).
--
-- A connection slot is a row per account and slot number, taken and
-- given back by updating it in place (pgstore's TryAcquireSlot), where
-- every run inserted a row and deleted it: the dead rows and index
-- entries that left piled up between autovacuum's passes, and every
-- count of an account's slots walked them, so that taking a slot grew
-- slower the faster the cluster ran. The columns an update changes
-- (holder, lease_until, epoch) are in no index, and the pages keep half
-- their room for the new versions, so that the updates are HOT: no new
-- index entry, and the old version pruned by the next visit of its page.
--
-- epoch is new, from a sequence, each time a slot is taken: a release
-- or renewal names it, so that one by an earlier holder touches nothing.
-- The slots held when this runs are kept, numbered per account, so that
-- the cap holds while they run out.
CREATE TEMPORARY TABLE held_slots ON COMMIT DROP AS
	SELECT account, (row_number() OVER (PARTITION BY account ORDER BY id) - 1)::integer AS n, holder, lease_until
	FROM conn_slots WHERE lease_until > now();
DROP TABLE conn_slots;
CREATE TABLE conn_slots (
	account     text NOT NULL,
	n           integer NOT NULL,
	epoch       bigserial NOT NULL,
	holder      text NOT NULL,
	lease_until timestamptz NOT NULL,
	PRIMARY KEY (account, n)
) WITH (fillfactor = 50);
INSERT INTO conn_slots (account, n, holder, lease_until) SELECT account, n, holder, lease_until FROM held_slots;

-- Every run upserts its task's state row: room left in each page lets
-- the update, which changes no indexed column, be HOT (79 % of them were
-- at the schedule's pace, 98 % and more with the room). The tasks' rows,
-- updated three times a run, did not clearly gain from the same room
-- (53 and 60 % HOT with it, 52 and 53 % without, in two runs each; the
-- release, which sets next_due, never is), so they keep theirs.
-- The setting applies to pages filled from now on; pages already full
-- get room as updates that do not fit move their rows away, or at once
-- with VACUUM FULL task_state (which locks the table meanwhile).
ALTER TABLE task_state SET (fillfactor = 70);
