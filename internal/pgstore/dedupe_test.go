package pgstore

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"mailtask/internal/outcome"
	"mailtask/internal/state"
)

func TestDedupeIndexKeepsTheFirstKeyPerDestination(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "n")
	idx, other := s.DedupeIndex("s3://bucket/a"), s.DedupeIndex("s3://bucket/b")
	sum := sha256.Sum256([]byte("invoice"))
	if key, err := idx.Lookup(ctx, sum); err != nil || key != "" {
		t.Fatalf("Lookup in an empty index: %q, %v", key, err)
	}
	for _, key := range []string{"a/x/invoice.pdf", "a/y/copy.pdf"} {
		if err := idx.Record(ctx, sum, key); err != nil {
			t.Fatal(err)
		}
	}
	if key, err := idx.Lookup(ctx, sum); err != nil || key != "a/x/invoice.pdf" {
		t.Fatalf("Lookup: %q, %v; want the first key recorded", key, err)
	}
	if key, err := other.Lookup(ctx, sum); err != nil || key != "" {
		t.Fatalf("another destination's Lookup: %q, %v; want nothing", key, err)
	}
	if err := idx.Forget(ctx, sum, "a/y/copy.pdf"); err != nil {
		t.Fatal(err)
	}
	if key, _ := idx.Lookup(ctx, sum); key != "a/x/invoice.pdf" {
		t.Fatalf("Forget of a key the entry does not name removed it (now %q)", key)
	}
	if err := idx.Forget(ctx, sum, "a/x/invoice.pdf"); err != nil {
		t.Fatal(err)
	}
	if key, _ := idx.Lookup(ctx, sum); key != "" {
		t.Fatalf("after Forget: %q", key)
	}
}

func TestRunHistoryKeepsTheNewest(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "n")
	l := claim(t, s, "inbox", time.Hour)
	start := time.Unix(1700000000, 0).UTC()
	for i := range RunsKept + 5 {
		run := state.Run{Started: start.Add(time.Duration(i) * time.Minute), Duration: time.Second, Outcome: "ok", Counts: outcome.Counts{Seen: i, Known: 1, Unmatched: 2, Held: 3}}
		if err := l.RecordRun(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	expire(t, url, "inbox")
	if err := l.RecordRun(ctx, state.Run{Started: start.Add(time.Hour * 24), Outcome: "failed", Error: "lease lost"}); err != nil {
		t.Fatalf("recording a run after the lease ran out: %v", err)
	}
	runs, err := s.Runs(ctx, "inbox", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != RunsKept {
		t.Fatalf("%d runs kept, want %d", len(runs), RunsKept)
	}
	if runs[0].Outcome != "failed" || runs[0].Node != "n" || runs[0].Epoch != l.Epoch || runs[1].Seen != RunsKept+4 ||
		runs[1].Known != 1 || runs[1].Unmatched != 2 || runs[1].Held != 3 {
		t.Fatalf("newest runs: %+v, %+v", runs[0], runs[1])
	}
}

// CommitRun commits a run's end with its state and history in one
// transaction; the fence still guards the state, and a run whose commit
// the fence refuses is history all the same.
func TestCommitRunIsFencedAndRecordsTheRunAnyway(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "n")
	l := claim(t, s, "inbox", time.Hour)
	st, _, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Unix(1700000000, 0).UTC()
	st.UIDValidity = 7
	st.LastRun = &state.Run{Started: started, Outcome: "ok", QuarantineNotices: 2}
	if err := l.CommitRun(ctx, st, *st.LastRun, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadState(ctx, "inbox"); err != nil || got.UIDValidity != 7 || got.LastRun == nil || !got.LastRun.Started.Equal(started) ||
		got.LastRun.QuarantineNotices != 2 {
		t.Fatalf("state after CommitRun: %+v (err %v), want UIDVALIDITY 7 and the run's end, its 2 quarantine notices included", got, err)
	}

	expire(t, url, "inbox")
	st.UIDValidity = 8
	st.LastRun = &state.Run{Started: started.Add(time.Hour), Outcome: "failed", Error: "lease lost"}
	if err := l.CommitRun(ctx, st, *st.LastRun, nil); !errors.Is(err, ErrFenced) {
		t.Fatalf("CommitRun past the lease: %v, want ErrFenced", err)
	}
	if got, err := s.LoadState(ctx, "inbox"); err != nil || got.UIDValidity != 7 {
		t.Fatalf("the fenced CommitRun wrote the state: %+v (err %v)", got, err)
	}
	runs, err := s.Runs(ctx, "inbox", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Outcome != "failed" || runs[1].Outcome != "ok" || runs[1].QuarantineNotices != 2 {
		t.Fatalf("history: %+v, want the fenced run after the first, which met 2 quarantine notices", runs)
	}
}
