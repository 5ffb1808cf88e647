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
		got, err := c.s.ClaimDigest(ctx, c.due)
		if err != nil || got != c.want {
			t.Errorf("%s claims %s: %v, %v; want %v", c.s.Node(), c.due, got, err, c.want)
		}
	}
	if n := count(t, url, "SELECT count(*) FROM digests"); n != 1 {
		t.Errorf("%d digests kept, want the one within %s of the latest", n, digestHistory)
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
