package push

import (
	"context"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/clock"
	"mailtask/internal/mailbox/imap"
)

// connection is one connection's life: sign in on the slot release gives
// back, open the folder, run the task if from says so, then idle until
// the connection fails (the error), the watcher stops (no error; quit has
// ended), or it is lent to a run or the server turns out to lack IDLE (the
// ending).
func (w *Watcher) connection(ctx, quit context.Context, release func(), cred *auth.Credential, from resume) (ending, error) {
	held := true
	give := func() {
		if held {
			held = false
			release()
		}
	}
	defer give()
	w.update(func(s *Status) { s.State, s.Since = Connecting, time.Time{} })
	s, err := w.dial(quit, cred)
	if err != nil {
		return ending{}, err
	}
	defer s.Close()
	folder, err := s.Watch(quit, w.opts.Task.Mailbox)
	if err != nil {
		return ending{}, err
	}
	idles, err := s.CanIdle(quit)
	if err != nil {
		return ending{}, err // a connection the server ended: reconnect
	}
	if !idles {
		w.goodbye(ctx, s, nil)
		return ending{noIdle: true}, nil
	}
	if from.runs(folder) {
		if starved, ended := w.opts.Trigger(time.Time{}); starved {
			return w.lend(quit, s, nil, ended, give)
		}
	}
	return w.idle(ctx, quit, s, from.afterFailure, give)
}

// dial signs in to the task's account, with the credential made on the
// first attempt that could make one.
func (w *Watcher) dial(ctx context.Context, cred *auth.Credential) (*imap.Session, error) {
	acct := w.opts.Config.Accounts[w.opts.Task.Account]
	if *cred == nil {
		c, err := auth.New(acct, auth.Options{StateDir: w.opts.Config.StateDir, Tokens: w.opts.Tokens, Log: w.log})
		if err != nil {
			return nil, err
		}
		*cred = c
	}
	return imap.Dial(ctx, acct, *cred)
}

// idle keeps s in IDLE, re-issued every idle_reissue, and asks for a run
// whenever the folder grows. give hands the connection's slot back.
func (w *Watcher) idle(ctx, quit context.Context, s *imap.Session, afterFailure bool, give func()) (ending, error) {
	clk := w.opts.Clock
	for {
		idling, err := s.Idle(quit)
		if err != nil {
			return ending{}, err
		}
		started, failing := w.idling(afterFailure)
		if started && afterFailure {
			w.log.Info("IDLE connection re-established; waiting for new mail", "mailbox", w.opts.Task.Mailbox)
		} else if started {
			w.log.Info("idling: waiting for new mail", "mailbox", w.opts.Task.Mailbox)
		}
		afterFailure = false
		reissue := clk.NewTimer(w.opts.Task.IdleReissue.Std())
		var steady clock.Timer
		var steadyC <-chan time.Time
		if failing {
			steady = clk.NewTimer(steadyAfter)
			steadyC = steady.C()
		}
		stopTimers := func() {
			reissue.Stop()
			if steady != nil {
				steady.Stop()
			}
		}
		for waiting := true; waiting; {
			select {
			case <-s.NewMail():
				arrived := clk.Now()
				w.log.Debug("new mail reported; asking for a run")
				if starved, ended := w.opts.Trigger(arrived); starved {
					stopTimers()
					return w.lend(quit, s, idling, ended, give)
				}
			case <-steadyC:
				steadyC = nil
				w.update(func(st *Status) { st.Failures = 0 })
			case <-reissue.C():
				waiting = false
			case <-s.Closed():
				stopTimers()
				return ending{}, s.Dropped()
			case <-quit.Done():
				stopTimers()
				w.goodbye(ctx, s, idling)
				return ending{}, nil
			}
		}
		stopTimers()
		if err := idling.Done(quit); err != nil {
			return ending{}, err
		}
		w.update(func(st *Status) { st.Failures = 0 })
	}
}

// idling records that an IDLE began: started says whether the watcher was
// not idling before, failing whether failures still count.
func (w *Watcher) idling(afterFailure bool) (started, failing bool) {
	now := w.opts.Clock.Now()
	w.update(func(st *Status) {
		started = st.State != Idling
		if started {
			st.State, st.Since = Idling, now
		}
		if afterFailure {
			st.Reconnects++
		}
		failing = st.Failures > 0
	})
	return started, failing
}

// lend gives the connection's slot to a run that waits for one: it ends
// IDLE, notes where the folder stands, logs out, and waits for the task's
// runs to end.
func (w *Watcher) lend(quit context.Context, s *imap.Session, idling *imap.Idling, ended <-chan struct{}, give func()) (ending, error) {
	if idling != nil {
		if err := idling.Done(quit); err != nil {
			return ending{}, err
		}
	}
	folder, err := s.Watch(quit, w.opts.Task.Mailbox)
	if err != nil {
		return ending{}, err
	}
	if err := s.Logout(quit); err != nil {
		w.log.Debug("logout of the IDLE connection failed", "err", err)
	}
	give()
	w.update(func(st *Status) { st.State, st.Since, st.Failures = Lent, time.Time{}, 0 })
	w.log.Debug("the account has no connection free for the run: lending it the IDLE connection's")
	select {
	case <-ended:
	case <-quit.Done():
	}
	return ending{lent: resume{lent: true, uidValidity: folder.UIDValidity, uidNext: folder.UIDNext}}, nil
}

// goodbye ends IDLE and logs out, within goodbyeWithin; only the end of
// ctx cuts it shorter.
func (w *Watcher) goodbye(ctx context.Context, s *imap.Session, idling *imap.Idling) {
	bye, cancel := context.WithTimeout(ctx, goodbyeWithin)
	defer cancel()
	if idling != nil && idling.Done(bye) != nil {
		return
	}
	if err := s.Logout(bye); err != nil {
		w.log.Debug("logout of the IDLE connection failed", "err", err)
	}
}
