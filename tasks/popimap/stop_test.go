package popimap

import (
	"context"
	"testing"
	"time"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// A stop requested while a message is on its way finishes that message,
// commits it with those before it, and fetches nothing more.
func TestStopFinishesTheMessageInHand(t *testing.T) {
	fetching := make(chan struct{})
	release := make(chan struct{})
	fetches := 0
	hold := func(cmd string) error {
		if cmd != "FETCH" {
			return nil
		}
		fetches++ // FETCHes of one client come one at a time
		if fetches == 2 {
			close(fetching)
			<-release
		}
		return nil
	}
	// One connection: its FETCHes come one at a time, and holding the
	// second holds the run.
	f := newFixture(t, testmail.IMAPOptions{Fault: hold}, "batch_size = 2", `after = "seen"`, "connections = 1")
	for _, name := range []string{"1", "2", "3", "4", "5"} {
		f.append(testmail.NewMessage(name, testmail.Attachment{Name: name + ".pdf", ContentType: "application/pdf", Content: pdf(name)}))
	}
	stop := make(chan struct{})
	type result struct {
		sum Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sum, err := Run(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0], Stop: stop})
		done <- result{sum, err}
	}()
	select {
	case <-fetching: // the second batch (3, 4) is being fetched
	case <-time.After(20 * time.Second):
		t.Fatal("the run never fetched a second batch")
	}
	close(stop)
	close(release)
	var res result
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not stop")
	}
	if res.err != nil {
		t.Fatalf("stopped run failed: %v", res.err)
	}
	if !res.sum.Stopped || res.sum.Saved != 3 || res.sum.Files != 3 {
		t.Errorf("summary = %+v, want 3 saved and stopped", res.sum)
	}
	files := f.files() // also fails on a temporary file left behind
	if got := sortedKeys(files); len(got) != 3 || got[2] != "3.pdf" {
		t.Errorf("files = %v, want 1.pdf 2.pdf 3.pdf", got)
	}
	st, err := state.Load(f.cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if st.Done.String() != "1:3" || st.LastRun == nil || st.LastRun.Outcome != "stopped" {
		t.Errorf("state: done %s, last run %+v", st.Done.String(), st.LastRun)
	}
	// The after-action was applied to exactly what was committed, and the
	// session logged out (which is what clears the pending actions).
	seen := 0
	for _, m := range f.srv.Messages("INBOX") {
		for _, fl := range m.Flags {
			if fl == `\Seen` {
				seen++
			}
		}
	}
	if seen != 3 || st.PendingUIDs.Len() != 0 {
		t.Errorf("%d messages seen, pending %s", seen, st.PendingUIDs.String())
	}

	// The next run takes the rest.
	if sum := f.mustRun(); sum.Seen != 2 || sum.Files != 2 || sum.Stopped {
		t.Errorf("next run = %+v", sum)
	}
}
