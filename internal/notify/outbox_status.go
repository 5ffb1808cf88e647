package notify

import (
	"context"
	"time"

	"mailtask/internal/config"
)

// Outbox is what is due to be mailed about tasks, as `mailtask status`
// shows it: an operator whose [notify] account is throttled, or whose
// password expired, sees the mails waiting and why.
type Outbox struct {
	Due map[string]TaskMails // by task; tasks with none are absent
	// Failing is the send that keeps failing, nil when the last went out
	// (or none was tried).
	Failing *SendFailure
	// Damaged are the records of mails due that could not be read, kept
	// aside (file store: outbox/*.damaged).
	Damaged []string
}

// TaskMails are the mails due about a task.
type TaskMails struct {
	Mails  int       `json:"mails"`
	Oldest time.Time `json:"oldest"` // the run that made the oldest due
}

// SendFailure is a send of the mails due that failed, and those that
// failed since.
type SendFailure struct {
	Since    time.Time `json:"since"` // the window of the first of them
	Last     time.Time `json:"last"`  // the window of the last
	Attempts int       `json:"attempts"`
	Error    string    `json:"error"` // the last's
	Hint     string    `json:"hint,omitempty"`
}

// OutboxOf says what is due to be mailed, from store (nil: the files
// under state_dir).
func OutboxOf(ctx context.Context, cfg *config.Config, store Store) (Outbox, error) {
	return storeOf(cfg, store, nil).Outbox(ctx)
}
