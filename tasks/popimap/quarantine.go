package popimap

import (
	"fmt"
	"io"
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
	return r.keepAside(m, raw.Reader(), ".eml", fmt.Sprintf("could not be parsed: %v", reason))
}

// keepAside writes what there is of a failed message, kept (nil: nothing)
// as base-of-its-key + suffix, with a note of why in a .reason.txt beside
// it, into the task's quarantine, and records the failure in the state.
// A message recorded so is done: its failure action becomes due with its
// batch's commit.
func (r *run) keepAside(m mailbox.Message, kept io.Reader, suffix, why string) error {
	if r.opts.DryRun {
		return nil
	}
	dir, err := sink.OpenPrivate(QuarantineDir(r.opts.Config.StateDir, r.opts.Task.Name), r.opts.Task.Name)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	defer dir.Close()
	base := strings.ReplaceAll(m.Key(), ":", "-")
	path := ""
	if kept != nil {
		stored, err := dir.Put(base+suffix, kept)
		if err != nil {
			return fmt.Errorf("quarantine: %w", err)
		}
		base, path = strings.TrimSuffix(stored.Name, ".eml"), filepath.Join(dir.Path(), stored.Name)
	}
	note := fmt.Sprintf("message %s of task %q %s\n", m.Key(), r.opts.Task.Name, why)
	stored, err := dir.Put(base+".reason.txt", strings.NewReader(note))
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	if path == "" {
		path = filepath.Join(dir.Path(), stored.Name)
	}
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	r.st.AddFailure(state.Failure{Key: m.Key(), Reason: why, Path: path, At: r.now()})
	return nil
}
