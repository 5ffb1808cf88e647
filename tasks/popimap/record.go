package popimap

import (
	"context"
	"time"

	"mailtask/internal/diagnose"
	"mailtask/internal/outcome"
	"mailtask/internal/state"
)

// recordRun stores the run's outcome in state, for `mailtask status` and
// the daemon's health check, whether the run succeeded or not; again
// says that Retry tries the run once more (Held.Record).
func recordRun(ctx context.Context, held Held, st *state.State, sum Summary, started time.Time, took time.Duration, runErr error, again bool) error {
	rec := &state.Run{
		Started:           started,
		Duration:          took,
		Outcome:           outcome.Of(runErr, sum.Stopped),
		Counts:            sum.Counts,
		QuarantineNotices: len(sum.Notices),
	}
	if runErr != nil {
		rec.Error = runErr.Error()
		rec.Hint = diagnose.Hint(runErr)
	}
	st.RecordNotices(started, len(sum.Notices), mostHeld(sum.Notices))
	st.LastRun = rec
	if runErr == nil {
		st.LastSuccess = rec
	}
	return held.Record(ctx, st, again)
}

// committedState reads the task's state as its last commit left it, for
// recording the end of a run whose state in memory holds a batch it could
// not commit: that batch's messages marked taken and their actions due,
// while the ledger lacks them. The next run takes them again.
func committedState(ctx context.Context, held Held) (*state.State, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reloadTimeout)
	defer cancel()
	st, _, err := held.Load(ctx)
	return st, err
}

// reloadTimeout bounds committedState, which goes on after the run's
// context has ended.
const reloadTimeout = 30 * time.Second
