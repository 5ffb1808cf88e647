package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"mailtask/internal/cluster"
	"mailtask/internal/pgstore"
	"mailtask/internal/state"
)

const heldTask = `[accounts.a]
host = "127.0.0.1"
port = 1
tls = "none"
username = "u"
password = "p"
[[task]]
name = "t"
account = "a"
destination = "d"
`

// A node that learns of its lease's loss while it commits (it was
// paused, and its renewals now fail) must still hear the database refuse
// the commit: the refusal is what the fenced-commits counter counts, and
// a context error in its place would hide that the fence worked.
func TestACommitAfterTheLeaseWasLostIsRefusedByTheFence(t *testing.T) {
	url := migratedDB(t)
	cfg := clusterConfig(t, url, `lease = "3s"`, heldTask)
	stale, other := openNode(t, cfg, "stale"), openNode(t, cfg, "other")
	ctx := testContext(t)
	lease, err := stale.Store().ClaimTask(ctx, "t", stale.Lease())
	if err != nil {
		t.Fatal(err)
	}
	held := stale.Held(lease, nil)
	st, _, err := held.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The lease runs out while the stale node is paused, and the other
	// node claims the task.
	query(t, url, func([]byte) {}, "UPDATE tasks SET lease_until = now() - interval '1 second' WHERE task = 't' RETURNING task")
	if _, err := other.Store().ClaimTask(ctx, "t", other.Lease()); err != nil {
		t.Fatal(err)
	}

	run, lost := context.WithCancelCause(ctx) // as Hold cancels a run whose lease is lost
	lost(pgstore.ErrLeaseLost)
	st.UIDValidity = 7
	err = held.Commit(run, st, []state.Fingerprint{{1}})
	if !errors.Is(err, pgstore.ErrFenced) {
		t.Fatalf("commit of a lease lost: %v, want the fence's refusal (pgstore.ErrFenced)", err)
	}
	now, err := other.Store().LoadState(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if now.UIDValidity == 7 {
		t.Fatal("the refused commit wrote the state")
	}
}

// A run of a mailbox with nothing new commits no batch and leaves the
// state as it loaded it: such a commit would write nothing, and is not
// sent (here: it succeeds with the database out of reach), while one that
// changes the state is.
func TestACommitThatChangesNothingIsNotSent(t *testing.T) {
	url := migratedDB(t)
	cfg := clusterConfig(t, url, "", heldTask)
	n := openNode(t, cfg, "n")
	ctx := testContext(t)
	lease, err := n.Store().ClaimTask(ctx, "t", n.Lease())
	if err != nil {
		t.Fatal(err)
	}
	held := n.Held(lease, nil)
	st, _, err := held.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	if err := held.Commit(ctx, st, nil); err != nil {
		t.Fatalf("a commit that changes nothing: %v, want nothing sent", err)
	}
	st.UIDValidity = 7
	if err := held.Commit(ctx, st, nil); err == nil {
		t.Fatal("a commit that changes the state succeeded with the database closed")
	}
	st.UIDValidity = 0
	if err := held.Commit(ctx, st, []state.Fingerprint{{1}}); err == nil {
		t.Fatal("a commit of a message succeeded with the database closed")
	}
}

// A run under a lease claimed for it alone ends with its record, which
// gives back the lease, due next as End says, and the run's slot: Ended
// says so, and the slot's Release afterwards leaves alone the slot
// another run has taken since. A record the fence refuses gives back
// neither: the slot goes back by its Release.
func TestARunsRecordGivesBackTheLeaseAndSlot(t *testing.T) {
	url := migratedDB(t)
	cfg := clusterConfig(t, url, "", heldTask)
	n := openNode(t, cfg, "n")
	ctx := testContext(t)
	next := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	rows := func(q string) (n int) {
		query(t, url, func([]byte) { n++ }, q)
		return n
	}
	record := func(expire bool) (*cluster.End, *cluster.Slot, error) {
		lease, err := n.Store().ClaimTask(ctx, "t", n.Lease())
		if err != nil {
			t.Fatal(err)
		}
		_, stop := n.Hold(ctx, lease)
		slot, err := n.TrySlot(ctx, "a", 1, nil, nil)
		if err != nil || slot == nil {
			t.Fatalf("slot: %v, %v", slot, err)
		}
		end := &cluster.End{Stop: stop, NextDue: func() time.Time { return next }, Slot: slot}
		held := n.Held(lease, end)
		st, _, err := held.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if expire {
			query(t, url, func([]byte) {}, "UPDATE tasks SET lease_until = now() - interval '1 second' RETURNING task")
		}
		st.LastRun = &state.Run{Started: time.Now(), Outcome: "ok"}
		return end, slot, held.Record(ctx, st, false)
	}

	end, slot, err := record(false)
	if err != nil || !end.Ended() {
		t.Fatalf("record: %v, ended %v; want the lease given back", err, end.Ended())
	}
	if rows("SELECT task FROM tasks WHERE holder IS NULL AND next_due > now()") != 1 || rows("SELECT account FROM conn_slots WHERE lease_until > now()") != 0 {
		t.Fatal("the record did not give back the lease, due next, and the slot")
	}
	other, err := n.TrySlot(ctx, "a", 1, nil, nil)
	if err != nil || other == nil {
		t.Fatalf("the slot given back could not be taken again: %v, %v", other, err)
	}
	slot.Release()
	if rows("SELECT account FROM conn_slots WHERE lease_until > now()") != 1 {
		t.Fatal("the Release of a slot the record gave back gave back another's")
	}
	other.Release()

	end, slot, err = record(true)
	if !errors.Is(err, pgstore.ErrFenced) || end.Ended() {
		t.Fatalf("record past the lease: %v, ended %v; want the fence's refusal", err, end.Ended())
	}
	if rows("SELECT task FROM tasks WHERE holder IS NOT NULL") != 1 || rows("SELECT account FROM conn_slots WHERE lease_until > now()") != 1 {
		t.Fatal("a record the fence refused gave back the lease or the slot")
	}
	slot.Release()
	if rows("SELECT account FROM conn_slots WHERE lease_until > now()") != 0 {
		t.Fatal("the slot of a refused record was not given back by its Release")
	}
}
