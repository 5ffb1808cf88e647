package state

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestRetryMakesTheMessagesKeptAsideNew(t *testing.T) {
	dir := t.TempDir()
	st, err := Load(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	st.Done.AddRange(1, 10)
	fp := Fingerprint{1, 2, 3}
	st.AddFailure(Failure{Key: "uid:3", Reason: "could not be parsed", Fingerprint: &fp, At: time.Now()})
	st.AddFailure(Failure{Key: "uid:5", Reason: "not delivered"})
	st.AddFailure(Failure{Key: "uidl:abc", Reason: "too large"})
	st.UIDLs.Add("abc")
	st.UIDLs.Add("def")
	st.PendingFailedUIDs.Add(5)
	st.PendingRemovalUIDs.Add(3)
	st.PendingFailedUIDLs = []string{"abc"}
	st.Undelivered = map[string]int{"uid:5": 3}
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}

	var unknown *UnknownFailureError
	if _, err := st.Retry([]string{"uid:3", "uid:4"}); !errors.As(err, &unknown) || unknown.Key != "uid:4" || len(st.Failed) != 3 || !st.Done.Contains(3) {
		t.Fatalf("retry of a key not kept aside: %v; failures %+v", err, st.Failed)
	}
	retried, err := st.Retry([]string{"uid:3"})
	if err != nil || len(retried) != 1 || *retried[0].Fingerprint != fp {
		t.Fatalf("retried %+v, %v", retried, err)
	}
	if st.Done.Contains(3) || !st.Done.Contains(4) || st.PendingRemovalUIDs.Contains(3) || len(st.Failed) != 2 {
		t.Errorf("after retrying uid:3: done %v, removals due %v, failures %+v", st.Done.String(), st.PendingRemovalUIDs.String(), st.Failed)
	}
	if retried, err = st.Retry(nil); err != nil || len(retried) != 2 {
		t.Fatalf("retry of all: %+v, %v", retried, err)
	}
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	again, err := Load(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Failed) != 0 || again.Done.Contains(5) || again.PendingFailedUIDs.Contains(5) || len(again.Undelivered) != 0 ||
		again.UIDLs.Has("abc") || !again.UIDLs.Has("def") || len(again.PendingFailedUIDLs) != 0 || again.Due().Total() != 0 {
		t.Errorf("saved after retrying all: %+v", again)
	}
}

func TestFailureFingerprintSurvivesSaving(t *testing.T) {
	dir := t.TempDir()
	st, err := Load(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	fp := Fingerprint{0xde, 0xad, 0, 0, 0, 0, 0xbe, 0xef}
	st.AddFailure(Failure{Key: "uid:1", Fingerprint: &fp})
	st.AddFailure(Failure{Key: "uid:2"})
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	again, err := Load(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if f := again.Failed; len(f) != 2 || f[0].Fingerprint == nil || *f[0].Fingerprint != fp || f[1].Fingerprint != nil {
		t.Errorf("loaded %+v", f)
	}
}

func TestForgetInLedgerKeepsTheOthers(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLedger(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(Fingerprint{1}, Fingerprint{2}, Fingerprint{3}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := ForgetInLedger(dir, "t", []Fingerprint{{2}, {9}}); err != nil {
		t.Fatal(err)
	}
	l, err = OpenLedger(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fps, err := l.All()
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(fps, func(a, b Fingerprint) int { return int(a[0]) - int(b[0]) })
	if !slices.Equal(fps, []Fingerprint{{1}, {3}}) {
		t.Errorf("ledger holds %v, want 1 and 3", fps)
	}
}

// What a failure record says of its copy and of the failure action
// survives saving; a record without the action (an earlier mailtask's)
// loads with it unknown.
func TestFailureActionAndWholenessSurviveSaving(t *testing.T) {
	dir := t.TempDir()
	st, err := Load(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	fp := Fingerprint{1}
	st.AddFailure(Failure{Key: "uid:1", Path: "/s/failed/t/uid-1.eml", Fingerprint: &fp, Action: "delete"})
	st.AddFailure(Failure{Key: "uid:2", Path: "/s/failed/t/uid-2.header.eml", Action: "none"})
	st.AddFailure(Failure{Key: "uid:3", Path: "/s/failed/t/uid-3.eml"})
	st.AddFailure(Failure{Key: "uid:4", Path: "/s/failed/t/uid-4.reason.txt", Action: "none"})
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	again, err := Load(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range again.Failed {
		got = append(got, f.Key+" "+f.Action+" "+map[bool]string{true: "whole", false: "partial"}[f.Whole()])
	}
	want := []string{"uid:1 delete whole", "uid:2 none partial", "uid:3  whole", "uid:4 none partial"}
	if !slices.Equal(got, want) {
		t.Errorf("loaded %q, want %q", got, want)
	}
	picked, err := again.Failures([]string{"uid:3", "uid:1"})
	if err != nil || len(picked) != 2 || picked[0].Key != "uid:1" || picked[1].Key != "uid:3" {
		t.Errorf("failures uid:3 and uid:1: %+v, %v; want both, in the order recorded", picked, err)
	}
	again.DropFailure("uid:1")
	if all, _ := again.Failures(nil); len(all) != 3 || all[0].Key != "uid:2" {
		t.Errorf("after dropping uid:1: %+v", all)
	}
}
