-- A commit's fence as one statement that fails when the committing node
-- no longer holds the lease, so that a commit goes to the database as one
-- batch (one round trip, one implicit transaction): the statements queued
-- after the fence are not run once it has failed, and the transaction
-- rolls back. Without it the node had to wait for the fence's answer
-- before sending what the commit writes.
--
-- The UPDATE takes the lease row, which the transaction then keeps, and
-- the lease is judged after, by the clock of that moment: an UPDATE that
-- waits for a row another session holds locked, and that session lets go
-- without changing it, goes ahead on what its WHERE found before the
-- wait, so a commit waiting there while its lease ran out would pass a
-- WHERE on lease_until.
CREATE FUNCTION mailtask_fence(p_task text, p_epoch bigint, p_holder text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	until timestamptz;
BEGIN
	UPDATE tasks SET committed_at = clock_timestamp()
	WHERE task = p_task AND epoch = p_epoch AND holder = p_holder
	RETURNING lease_until INTO until;
	IF NOT FOUND OR NOT until > clock_timestamp() THEN
		RAISE EXCEPTION 'task % is no longer held by % under epoch %', p_task, p_holder, p_epoch
			USING ERRCODE = 'MTF01';
	END IF;
END $$;
