package state

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
	"testing"
)

func fp(n uint64) Fingerprint {
	var f Fingerprint
	binary.BigEndian.PutUint64(f[:], n)
	return f
}

func openLedger(t testing.TB, dir string) *Ledger {
	t.Helper()
	l, err := OpenLedger(dir, "invoices")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func ledgerSize(t *testing.T, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(ledgerPath(dir, "invoices"))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestFingerprintOf(t *testing.T) {
	sum := sha256.Sum256([]byte("raw message"))
	f := FingerprintOf(sum)
	if string(f[:]) != string(sum[:8]) {
		t.Errorf("FingerprintOf = %x, want %x", f, sum[:8])
	}
}

func TestLedgerPersists(t *testing.T) {
	dir := t.TempDir()
	l := openLedger(t, dir)
	if l.Len() != 0 || l.Has(fp(1)) {
		t.Fatal("new ledger is not empty")
	}
	if err := l.Append(fp(1), fp(2)); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(fp(3)); err != nil {
		t.Fatal(err)
	}
	if !l.Has(fp(2)) || l.Has(fp(4)) || l.Len() != 3 {
		t.Errorf("Has(2)=%v Has(4)=%v Len=%d, want true false 3", l.Has(fp(2)), l.Has(fp(4)), l.Len())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openLedger(t, dir)
	defer l.Close()
	for _, n := range []uint64{1, 2, 3} {
		if !l.Has(fp(n)) {
			t.Errorf("after reopen Has(%d) = false", n)
		}
	}
	if l.Has(fp(4)) || l.Len() != 3 {
		t.Errorf("after reopen Has(4)=%v Len=%d, want false 3", l.Has(fp(4)), l.Len())
	}
	fi, err := os.Stat(ledgerPath(dir, "invoices"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("ledger mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestLedgerSkipsDuplicates(t *testing.T) {
	dir := t.TempDir()
	l := openLedger(t, dir)
	defer l.Close()
	if err := l.Append(fp(1), fp(1), fp(2)); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(fp(2)); err != nil {
		t.Fatal(err)
	}
	if got := ledgerSize(t, dir); got != 16 {
		t.Errorf("ledger is %d bytes, want 16 (two distinct fingerprints)", got)
	}
	if l.Len() != 2 {
		t.Errorf("Len() = %d, want 2", l.Len())
	}
}

func TestLedgerTornTail(t *testing.T) {
	dir := t.TempDir()
	l := openLedger(t, dir)
	if err := l.Append(fp(1), fp(2), fp(3)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// A crash mid-append leaves part of a record.
	f, err := os.OpenFile(ledgerPath(dir, "invoices"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{0xff, 0xff, 0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	l = openLedger(t, dir)
	// Opening reads nothing: a poll that finds nothing new never pays for
	// the ledger, so the torn record is still there.
	if got := ledgerSize(t, dir); got != 29 {
		t.Errorf("ledger is %d bytes right after opening, want 29 (untouched)", got)
	}
	if l.Len() != 3 {
		t.Errorf("Len() = %d after torn tail, want 3", l.Len())
	}
	if got := ledgerSize(t, dir); got != 24 {
		t.Errorf("ledger is %d bytes, want the torn record cut to 24", got)
	}
	if err := l.Append(fp(4)); err != nil {
		t.Fatal(err)
	}
	l.Close()

	l = openLedger(t, dir)
	defer l.Close()
	for _, n := range []uint64{1, 2, 3, 4} {
		if !l.Has(fp(n)) {
			t.Errorf("Has(%d) = false; a record after the torn tail was misaligned", n)
		}
	}
	if l.Len() != 4 {
		t.Errorf("Len() = %d, want 4", l.Len())
	}
}

func TestLedgerAppendAfterCloseFails(t *testing.T) {
	dir := t.TempDir()
	l := openLedger(t, dir)
	l.Close()
	err := l.Append(fp(1))
	if !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Append on a closed ledger = %v, want os.ErrClosed", err)
	}
	if l.Has(fp(1)) {
		t.Error("a failed Append counts the fingerprint as recorded")
	}
}

func TestReset(t *testing.T) {
	dir := t.TempDir()
	s, err := Load(dir, "invoices")
	if err != nil {
		t.Fatal(err)
	}
	s.Done.AddRange(1, 10)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	l := openLedger(t, dir)
	if err := l.Append(fp(1)); err != nil {
		t.Fatal(err)
	}
	l.Close()

	if err := Reset(dir, "invoices"); err != nil {
		t.Fatal(err)
	}
	s, err = Load(dir, "invoices")
	if err != nil {
		t.Fatal(err)
	}
	if s.Done.Len() != 0 {
		t.Errorf("after Reset done = %q, want empty", s.Done.String())
	}
	l = openLedger(t, dir)
	defer l.Close()
	if l.Len() != 0 {
		t.Errorf("after Reset ledger has %d entries", l.Len())
	}
	// Resetting a task that has no files is not an error.
	if err := Reset(dir, "never-ran"); err != nil {
		t.Errorf("Reset of a task without state: %v", err)
	}
}

func TestResetRefusesWhileLocked(t *testing.T) {
	dir := t.TempDir()
	s, _ := Load(dir, "invoices")
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	lock, err := Lock(dir, "invoices")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	var le *LockedError
	if err := Reset(dir, "invoices"); !errors.As(err, &le) {
		t.Fatalf("Reset while locked = %v, want *LockedError", err)
	}
	if _, err := os.Stat(Path(dir, "invoices")); err != nil {
		t.Errorf("refused Reset removed the state file: %v", err)
	}
}

func BenchmarkLoadLedger(b *testing.B) {
	dir := b.TempDir()
	l := openLedger(b, dir)
	fps := make([]Fingerprint, 100_000)
	for i := range fps {
		fps[i] = FingerprintOf(sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))))
	}
	if err := l.Append(fps...); err != nil {
		b.Fatal(err)
	}
	l.Close()
	for b.Loop() {
		l := openLedger(b, dir)
		if l.Len() != len(fps) {
			b.Fatalf("Len() = %d, want %d", l.Len(), len(fps))
		}
		l.Close()
	}
}
