package pgstore

import (
	"errors"
	"testing"
	"time"

	"mailtask/internal/state"
)

// Forget takes out of the ledger exactly the fingerprints it is given, in
// the fenced transaction that commits the state: a node that lost the
// lease changes nothing.
func TestForgetTakesItsFingerprintsOutOfTheLedger(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "n")
	l := claim(t, s, "t", time.Minute)
	st, ledger, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Commit(ctx, st, []state.Fingerprint{{1}, {2}, {3}}); err != nil {
		t.Fatal(err)
	}
	st.Done.Add(7)
	if err := l.Forget(ctx, st, []state.Fingerprint{{2}, {9}}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, url, "SELECT count(*) FROM ledger WHERE task = 't'"); n != 2 || ledger.Has(state.Fingerprint{2}) || !ledger.Has(state.Fingerprint{3}) {
		t.Errorf("ledger: %d rows, loaded copy has 2: %v; want 1 and 3 alone", n, ledger.Has(state.Fingerprint{2}))
	}
	if got, err := s.LoadState(ctx, "t"); err != nil || !got.Done.Contains(7) {
		t.Errorf("the state committed with it: %v, %v", got, err)
	}

	sql(t, url, "UPDATE tasks SET epoch = epoch + 1 WHERE task = 't'")
	if err := l.Forget(ctx, st, []state.Fingerprint{{1}}); !errors.Is(err, ErrFenced) {
		t.Fatalf("Forget under a lost lease: %v, want ErrFenced", err)
	}
	if n := count(t, url, "SELECT count(*) FROM ledger WHERE task = 't'"); n != 2 {
		t.Errorf("a fenced Forget left %d rows, want 2", n)
	}
}
