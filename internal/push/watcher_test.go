package push

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/testmail"
)

// afterIdle arms a FaultDrop for when the server next writes after
// accepting IDLE ("+ idling\r\n"): the connection dies with the EXISTS of
// the next message.
var afterIdle = int64(len("+ idling\r\n")) + 1

func TestWatcherAsksForARunOnNewMail(t *testing.T) {
	b := newBed(t, 10*time.Second)
	h := newHost(2)
	w, clk := b.start(t, h)
	// Once connected, the task runs: mail may have come while nobody watched.
	if at := h.nextTrigger(t); !at.IsZero() {
		t.Errorf("the run after connecting has an arrival time: %v", at)
	}
	h.finish(t, h.nextRun(t))
	if st := h.waitState(t, Idling); !st.Since.Equal(t0) || st.Reconnects != 0 || st.Failures != 0 {
		t.Errorf("idling: %+v", st)
	}

	b.deliver(t)
	if at := h.nextTrigger(t); !at.Equal(t0) {
		t.Errorf("arrival = %v, want the fake now %v", at, t0)
	}
	run := h.nextRun(t)
	// Mail during the run is reported too; the host coalesces it.
	b.deliver(t)
	h.nextTrigger(t)
	h.finish(t, run)

	// IDLE is re-issued after idle_reissue, and new mail is still seen.
	reissue := t0.Add(config.DefaultIdleReissue)
	if err := clk.WaitForTimerAt(reissue, within); err != nil {
		t.Fatal(err)
	}
	clk.Advance(config.DefaultIdleReissue)
	if err := clk.WaitForTimerAt(reissue.Add(config.DefaultIdleReissue), within); err != nil {
		t.Fatal(err)
	}
	if st := w.Status(); st.State != Idling || !st.Since.Equal(t0) || st.Failures != 0 {
		t.Errorf("after the re-issue: %+v", st)
	}
	b.deliver(t)
	h.nextTrigger(t)
	h.finish(t, h.nextRun(t))

	w.Stop()
	if st := w.Status(); st.State != Stopped {
		t.Errorf("after Stop: %+v", st)
	}
	if p := clk.Pending(); len(p) != 0 {
		t.Errorf("timers left armed: %v", p)
	}
}

// A connection that drops while idling is re-established after a backoff,
// and the task runs then: the message whose EXISTS was lost with the
// connection is taken by that run.
func TestWatcherReconnectsAfterADrop(t *testing.T) {
	b := newBed(t, 10*time.Second, testmail.Fault{Kind: testmail.FaultDrop, On: "IDLE", After: afterIdle})
	h := newHost(2)
	_, clk := b.start(t, h)
	h.nextTrigger(t)
	h.finish(t, h.nextRun(t))
	h.waitState(t, Idling)

	b.deliver(t)
	st := h.waitState(t, Failing)
	if st.Failures != 1 || !strings.Contains(st.LastError, "dropped while idling") {
		t.Errorf("after the drop: %+v", st)
	}
	h.noTrigger(t) // the EXISTS never arrived
	if err := clk.WaitForTimerAt(t0.Add(firstBackoff), within); err != nil {
		t.Fatal(err)
	}
	clk.Advance(firstBackoff)
	if at := h.nextTrigger(t); !at.IsZero() {
		t.Errorf("the run after reconnecting has an arrival time: %v", at)
	}
	h.finish(t, h.nextRun(t))
	st = h.waitState(t, Idling)
	if st.Reconnects != 1 || st.Failures != 1 || b.proxy.Connections() != 2 {
		t.Errorf("reconnected: %+v over %d connections", st, b.proxy.Connections())
	}
	// A minute of idling ends the row of failures.
	if err := clk.WaitForTimerAt(clk.Now().Add(steadyAfter), within); err != nil {
		t.Fatal(err)
	}
	clk.Advance(steadyAfter)
	h.waitStatus(t, "the failures over", func(s Status) bool { return s.State == Idling && s.Failures == 0 })
}

// A server that ends the session while the CAPABILITY go-imap sends by
// itself after the sign-in is outstanding (Exchange's "* BYE Session
// invalidated - AccessTokenExpired") has not said it lacks IDLE: the
// watcher reconnects and idles, rather than polling for good. The BYE
// comes once EXAMINE is answered, whichever of the two the client sent
// first, so that it is the question about IDLE that it cuts.
func TestWatcherReconnectsWhenAByeCutsCapability(t *testing.T) {
	const bye = "* BYE Session invalidated - AccessTokenExpired\r\n"
	var mu sync.Mutex
	var ended, examined, asked bool // on the first connection
	idleTag := ""
	b := scriptedBed(t, testmail.IMAPScript{Capabilities: "IMAP4rev1 UIDPLUS MOVE IDLE", Replies: map[string]func(io.Writer, string, string) error{
		"CAPABILITY": func(w io.Writer, tag, _ string) error {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case ended:
				_, err := io.WriteString(w, "* CAPABILITY IMAP4rev1 UIDPLUS MOVE IDLE\r\n"+tag+" OK CAPABILITY completed\r\n")
				return err
			case examined:
				ended = true
				if _, err := io.WriteString(w, bye); err != nil {
					return err
				}
				return io.EOF // the server closes the connection
			}
			asked = true // answered after EXAMINE, with the BYE
			return nil
		},
		"EXAMINE": func(w io.Writer, tag, _ string) error {
			if _, err := io.WriteString(w, "* 0 EXISTS\r\n* OK [UIDVALIDITY 1] UIDs valid\r\n* OK [UIDNEXT 1] next\r\n"+tag+" OK [READ-ONLY] done\r\n"); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if ended {
				return nil
			}
			examined = true
			if asked {
				ended = true
				if _, err := io.WriteString(w, bye); err != nil {
					return err
				}
				return io.EOF
			}
			return nil
		},
		"IDLE": func(w io.Writer, tag, _ string) error {
			mu.Lock()
			idleTag = tag
			mu.Unlock()
			_, err := io.WriteString(w, "+ idling\r\n")
			return err
		},
		"": func(w io.Writer, _, _ string) error { // DONE
			mu.Lock()
			tag := idleTag
			mu.Unlock()
			_, err := io.WriteString(w, tag+" OK IDLE terminated\r\n")
			return err
		},
	}})
	h := newHost(2)
	_, clk := b.start(t, h)
	st := h.waitStatus(t, "a failure or polling", func(s Status) bool { return s.State == Failing || s.State == Polling })
	if st.State != Failing || !strings.Contains(st.LastError, "the server ended the session: BYE Session invalidated - AccessTokenExpired") {
		t.Fatalf("CAPABILITY cut by a BYE: %+v, want a failure with the server's reason, reconnected, not a server without IDLE", st)
	}
	h.noTrigger(t)
	if err := clk.WaitForTimerAt(t0.Add(firstBackoff), within); err != nil {
		t.Fatal(err)
	}
	clk.Advance(firstBackoff)
	h.nextTrigger(t)
	h.finish(t, h.nextRun(t))
	if st := h.waitState(t, Idling); st.Reconnects != 1 {
		t.Errorf("reconnected: %+v", st)
	}
}

// A server that stops answering is found out at the next re-issue: DONE
// goes unanswered for the account's timeout, and the watcher reconnects.
func TestWatcherDetectsAStalledServer(t *testing.T) {
	b := newBed(t, time.Second, testmail.Fault{Kind: testmail.FaultStall, On: "DONE"})
	h := newHost(2)
	_, clk := b.start(t, h)
	h.nextTrigger(t)
	h.finish(t, h.nextRun(t))
	h.waitState(t, Idling)
	if err := clk.WaitForTimerAt(t0.Add(config.DefaultIdleReissue), within); err != nil {
		t.Fatal(err)
	}
	clk.Advance(config.DefaultIdleReissue)
	st := h.waitState(t, Failing)
	if !strings.Contains(st.LastError, "DONE") || b.proxy.Struck() != 1 {
		t.Errorf("after the stall: %+v (fault struck %d times)", st, b.proxy.Struck())
	}
	if err := clk.WaitForTimerAt(clk.Now().Add(firstBackoff), within); err != nil {
		t.Fatal(err)
	}
	clk.Advance(firstBackoff)
	h.nextTrigger(t)
	h.finish(t, h.nextRun(t))
	if st := h.waitState(t, Idling); st.Reconnects != 1 {
		t.Errorf("reconnected: %+v", st)
	}
}

// With one connection for the account, the watcher gives its own to the
// runs it asks for, and comes back after each; it runs the task again on
// coming back only when mail arrived while it was away.
func TestWatcherLendsItsConnectionWhenNoOtherIsFree(t *testing.T) {
	b := newBed(t, 10*time.Second)
	h := newHost(1)
	_, _ = b.start(t, h)
	h.nextTrigger(t) // after connecting: the run needs the only connection
	run := h.nextRun(t)
	h.waitState(t, Lent)
	h.finish(t, run)
	h.waitState(t, Idling)
	h.noTrigger(t) // nothing arrived meanwhile

	b.deliver(t)
	if at := h.nextTrigger(t); at.IsZero() {
		t.Error("the run for new mail has no arrival time")
	}
	run = h.nextRun(t)
	h.waitState(t, Lent)
	b.deliver(t) // while nobody watches
	h.finish(t, run)
	if at := h.nextTrigger(t); !at.IsZero() {
		t.Errorf("the run for mail that came while lent has an arrival time: %v", at)
	}
	h.finish(t, h.nextRun(t))
	h.waitState(t, Idling)
	h.noTrigger(t)
}

// Stop while waiting for a connection of the account, or while lent,
// returns at once.
func TestWatcherStopsWhileWaiting(t *testing.T) {
	b := newBed(t, 10*time.Second)
	h := newHost(1)
	h.slot <- struct{}{} // another run holds the only connection
	w, _ := b.start(t, h)
	stopped := make(chan struct{})
	go func() {
		w.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(within):
		t.Fatal("Stop waited for a connection of the account")
	}
	h.noTrigger(t)
}
