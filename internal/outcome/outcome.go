package outcome

// How a run ended, in the state file's last run, the metrics and the log.
const (
	OK      = "ok"
	Stopped = "stopped" // cleanly, on request; what was taken is committed
	Failed  = "failed"
)

// Of names how a run ended from its error and whether it was stopped.
func Of(err error, stopped bool) string {
	switch {
	case err != nil:
		return Failed
	case stopped:
		return Stopped
	}
	return OK
}
