package popimap

import (
	"context"
	"time"

	"mailtask/internal/diagnose"
	"mailtask/internal/outcome"
	"mailtask/internal/state"
)

// recordRun stores the run's outcome in state, for `mailtask status` and
// the daemon's health check, whether the run succeeded or not.
func recordRun(ctx context.Context, held Held, st *state.State, sum Summary, started time.Time, took time.Duration, runErr error) error {
	rec := &state.Run{
		Started:  started,
		Duration: took,
		Outcome:  outcome.Of(runErr, sum.Stopped),
		Counts:   sum.Counts,
	}
	if runErr != nil {
		rec.Error = runErr.Error()
		rec.Hint = diagnose.Hint(runErr)
	}
	st.LastRun = rec
	if runErr == nil {
		st.LastSuccess = rec
	}
	return held.Record(ctx, st)
}
