-- A commit's fence as a statement that fails when the committing node no
-- longer holds the lease, so that a commit goes to the database as one
-- batch (one round trip, one implicit transaction): the statements queued
-- after the fence are not run once it has failed, and the transaction
-- rolls back. Without it the node had to wait for the fence's answer
-- before sending what the commit writes. The caller has locked the row
-- first (see pgstore's fence); clock_timestamp() is read after that.
CREATE FUNCTION mailtask_fence(p_task text, p_epoch bigint, p_holder text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE tasks SET committed_at = clock_timestamp()
	WHERE task = p_task AND epoch = p_epoch AND holder = p_holder AND lease_until > clock_timestamp();
	IF NOT FOUND THEN
		RAISE EXCEPTION 'task % is no longer held by % under epoch %', p_task, p_holder, p_epoch
			USING ERRCODE = 'MTF01';
	END IF;
END $$;
