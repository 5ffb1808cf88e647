package popimap

import (
	"fmt"
	"path/filepath"
	"strings"

	"mailtask/internal/mailbox"
	"mailtask/internal/sink"
	"mailtask/internal/state"
)

// QuarantineDir is where a task's unparseable messages are kept, beside
// its state rather than in the destination, where a downstream watcher
// would pick them up.
func QuarantineDir(stateDir, task string) string {
	return filepath.Join(stateDir, "failed", task)
}

// quarantine keeps an unparseable message's raw bytes and the reason, and
// records it so it is not retried on every run. It is recorded as done
// with the rest of the batch.
func (r *run) quarantine(m mailbox.Message, raw *spool, reason error) error {
	r.log.Warn("message cannot be parsed; kept aside", "msg", m.Key(), "reason", reason)
	if r.opts.DryRun {
		return nil
	}
	dir, err := sink.OpenPrivate(QuarantineDir(r.opts.Config.StateDir, r.opts.Task.Name), r.opts.Task.Name)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	defer dir.Close()
	base := strings.ReplaceAll(m.Key(), ":", "-")
	stored, err := dir.Put(base+".eml", raw.Reader())
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	note := fmt.Sprintf("message %s of task %q could not be parsed: %v\n", m.Key(), r.opts.Task.Name, reason)
	if _, err := dir.Put(strings.TrimSuffix(stored.Name, ".eml")+".reason.txt", strings.NewReader(note)); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	r.st.AddFailure(state.Failure{
		Key:    m.Key(),
		Reason: reason.Error(),
		Path:   filepath.Join(dir.Path(), stored.Name),
		At:     r.now(),
	})
	return nil
}
