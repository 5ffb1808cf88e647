package popimap

import (
	"time"

	"mailtask/internal/diagnose"
	"mailtask/internal/state"
)

// recordRun stores the run's outcome in state, for `mailtask status` and
// the daemon's health check, whether the run succeeded or not.
func recordRun(st *state.State, sum Summary, started time.Time, runErr error) error {
	rec := &state.Run{
		Started:  started,
		Duration: sum.Duration,
		Outcome:  "ok",
		Seen:     sum.Seen,
		Matched:  sum.Seen - sum.Unmatched,
		Saved:    sum.Saved,
		Failed:   sum.Failed,
		Files:    sum.Files,
		Bytes:    sum.Bytes,
	}
	if sum.Stopped {
		rec.Outcome = "stopped" // cleanly, on request; what was taken is committed
	}
	if runErr != nil {
		rec.Outcome = "failed"
		rec.Error = runErr.Error()
		rec.Hint = diagnose.Hint(runErr)
	}
	st.LastRun = rec
	if runErr == nil {
		st.LastSuccess = rec
	}
	return st.Save()
}
