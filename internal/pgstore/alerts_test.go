package pgstore

import (
	"testing"
	"time"
)

// A digest's scheduled time goes to the first node that claims it; a
// node coming late to an earlier one (its clock behind) finds it
// decided by the later claim, and claims older than digestHistory go.
func TestClaimDigest(t *testing.T) {
	url := migratedDB(t)
	a, b := openNode(t, url, "a"), openNode(t, url, "b")
	ctx := testContext(t)
	eight := time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		s    *Store
		due  time.Time
		want bool
	}{
		{a, eight, true},
		{b, eight, false},
		{a, eight, false},
		{b, eight.Add(24 * time.Hour), true},
		{a, eight.Add(-24 * time.Hour), false}, // late, and older than the latest
		{a, eight.Add(40 * 24 * time.Hour), true},
	} {
		got, wait, err := c.s.ClaimDigest(ctx, c.due)
		if err != nil || got != c.want || wait != 0 {
			t.Errorf("%s claims %s: %v, wait %s, %v; want %v", c.s.Node(), c.due, got, wait, err, c.want)
		}
	}
	if n := count(t, url, "SELECT count(*) FROM digests"); n != 1 {
		t.Errorf("%d digests kept, want the one within %s of the latest", n, digestHistory)
	}
}

// A node whose clock ran ahead of the others' claimed the digest before
// its time, and far enough ahead the next schedule's: a digest is due by
// the database's clock. Until then a claim claims nothing and says how
// long to wait; then the first node to claim it sends it, once for the
// cluster.
func TestADigestIsDueByTheDatabasesClock(t *testing.T) {
	url := migratedDB(t)
	a, b := openNode(t, url, "a"), openNode(t, url, "b")
	ctx := testContext(t)
	dbNow := func() time.Time {
		return time.UnixMicro(int64(count(t, url, "SELECT (extract(epoch FROM now()) * 1000000)::bigint")))
	}
	// Node a's clock runs 10 minutes ahead: its timer fires at what it
	// takes for the scheduled time.
	ahead := dbNow().Add(10 * time.Minute).Truncate(time.Second)
	claimed, wait, err := a.ClaimDigest(ctx, ahead)
	if claimed || err != nil || wait < 9*time.Minute || wait > 10*time.Minute {
		t.Fatalf("node a claims the digest due at %s, 10 minutes ahead of the database: %v, wait %s, %v; want no claim and a wait of about 10 minutes",
			ahead.Format(time.RFC3339), claimed, wait, err)
	}
	if n := count(t, url, "SELECT count(*) FROM digests"); n != 0 {
		t.Fatalf("%d digests claimed before they were due", n)
	}
	// A digest due in a moment: each node claims it when the database
	// says it has come, waiting as long as it is told.
	soon := dbNow().Add(time.Second)
	var winners []string
	for _, s := range []*Store{a, b} {
		for {
			claimed, wait, err := s.ClaimDigest(ctx, soon)
			if err != nil {
				t.Fatal(err)
			}
			if wait <= 0 {
				if claimed {
					winners = append(winners, s.Node())
				}
				break
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
		}
	}
	if len(winners) != 1 {
		t.Errorf("the digest due at %s was claimed by %q, want one node", soon.Format(time.RFC3339Nano), winners)
	}
	if n := count(t, url, "SELECT count(*) FROM digests WHERE due = $1 AND claimed_at >= due", soon); n != 1 {
		t.Errorf("%d claims of the digest due at %s by the database's clock, want 1", n, soon.Format(time.RFC3339Nano))
	}
	if claimed, wait, err := a.ClaimDigest(ctx, ahead); claimed || wait <= 0 || err != nil {
		t.Errorf("node a claims the digest 10 minutes ahead once the one before is sent: %v, wait %s, %v; want it still early", claimed, wait, err)
	}
}

// What [notify] costs a run in round trips: a success with no alert one
// look, as most runs are; a failure (or a recovery) one transaction, the
// lock, the read and the write; the same counted twice, so that the
// statements' descriptions are cached on the store's one connection.
func TestAlertRoundTrips(t *testing.T) {
	_, trips, s := openCounted(t)
	ctx := testContext(t)
	var err error
	for i := range 2 {
		if n := trips.during(func() { _, err = s.Alert(ctx, "t") }); err != nil || i == 1 && n != 1 {
			t.Fatalf("look %d: %d round trips, %v; want 1", i, n, err)
		}
	}
	at := time.Now().Truncate(time.Microsecond)
	for i := range 2 {
		n := trips.during(func() {
			err = s.UpdateAlert(ctx, "t", func(prev *Alert) (*Alert, *Mail, error) {
				if i == 1 && (prev == nil || prev.Failures != 1) {
					t.Errorf("update %d read %+v, want the first's alert", i, prev)
				}
				return &Alert{Class: "hint: x", Since: at, Failures: i + 1, Mailed: 1, LastMail: at}, nil, nil
			})
		})
		if err != nil || i == 1 && n != 5 {
			t.Fatalf("update %d: %d round trips, %v; want 5 (begin, lock, read, write, commit)", i, n, err)
		}
	}
	if a, err := s.Alert(ctx, "t"); err != nil || a == nil || a.Failures != 2 || !a.Since.Equal(at) {
		t.Fatalf("alert %+v, %v; want the second update's", a, err)
	}
	if _, err := s.ForgetAlert(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if all, err := s.Alerts(ctx); err != nil || len(all) != 0 {
		t.Fatalf("alerts after ForgetAlert: %v, %v", all, err)
	}
}
