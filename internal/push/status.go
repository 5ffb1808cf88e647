package push

import "time"

// State is what a watcher is doing.
type State string

const (
	Connecting State = "connecting" // signing in and opening the folder
	Idling     State = "idling"     // in IDLE, waiting for new mail
	Lent       State = "lent"       // its connection given to a run of the task, until the task's runs end
	Polling    State = "polling"    // the server lacks IDLE; the task is polled instead
	Failing    State = "failing"    // the connection failed; waiting to reconnect
	Stopped    State = "stopped"
)

// Status is what a watcher reports of itself.
type Status struct {
	Task  string
	State State
	// Since is when the current connection began idling; zero unless
	// State is Idling.
	Since time.Time
	// Reconnects counts the connections re-established after a failure
	// since the watcher started.
	Reconnects int
	// Failures counts the failures in a row: connections that could not
	// be opened, that dropped, or whose DONE went unanswered. A DONE the
	// server answers, or a connection idling for a minute, ends the row.
	Failures  int
	LastError string
}

// Unhealthy reports whether the watcher has failed threshold times in a
// row: its task may not learn of new mail.
func (s Status) Unhealthy(threshold int) bool { return s.Failures >= threshold }
