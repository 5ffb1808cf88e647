package popimap

import (
	"context"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"mailtask/internal/config"
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

// QuarantineFolder is where cluster mode keeps a task's unparseable
// messages: in its destination (the bucket), under this folder, since
// whatever one node keeps on its own disk is lost with the node.
// Downstream readers of the destination should skip it.
func QuarantineFolder(task string) string { return path.Join("_failed", task) }

// quarantine keeps an unparseable message's raw bytes and the reason, and
// records it so it is not retried on every run. It is recorded as done
// with the rest of the batch.
func (r *run) quarantine(ctx context.Context, m mailbox.Message, raw *spool, reason error) error {
	r.log.Warn("message cannot be parsed; kept aside", "msg", m.Key(), "reason", reason)
	return r.keepWhole(ctx, m, raw, fmt.Sprintf("could not be parsed: %v", reason))
}

// keepWhole keeps aside a message received whole, and its fingerprint,
// which the ledger records with the batch: `mailtask state retry` takes
// it out of the ledger again, lest the retried message count as taken.
func (r *run) keepWhole(ctx context.Context, m mailbox.Message, raw *spool, why string) error {
	fp := state.FingerprintOf(raw.sum)
	return r.keepAside(ctx, m, raw.Reader(), ".eml", why, &fp)
}

// keepAside writes what there is of a failed message, kept (nil: nothing)
// as base-of-its-key + suffix, with a note of why in a .reason.txt beside
// it, into the task's quarantine, and records the failure in the state,
// with fp when the ledger records the message (keepWhole).
// A message recorded so is done: its failure action becomes due with its
// batch's commit.
func (r *run) keepAside(ctx context.Context, m mailbox.Message, kept io.Reader, suffix, why string, fp *state.Fingerprint) error {
	if r.opts.DryRun {
		// Recorded in the state, which a dry run never saves, for its
		// Summary to list.
		r.st.AddFailure(state.Failure{Key: m.Key(), Reason: why, At: r.now()})
		return nil
	}
	base := strings.ReplaceAll(m.Key(), ":", "-")
	task := r.opts.Task.Name
	retry := fmt.Sprintf("`mailtask state retry %s %s` has the next run take it again", task, m.Key())
	if fp != nil {
		retry += fmt.Sprintf(" from the server (where after_failure left it), or `mailtask state retry --from-copy %s %s` takes it now from this copy", task, m.Key())
	}
	note := fmt.Sprintf("message %s of task %q %s\nOnce that is mended, %s.\n", m.Key(), task, why, retry)
	put := r.quarantineLocally
	if r.opts.Config.SharedState() {
		put = r.quarantineShared
	}
	where, err := put(ctx, aside{base: base, kept: kept, suffix: suffix, note: note})
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	r.st.AddFailure(state.Failure{Key: m.Key(), Reason: why, Path: where, At: r.now(), Fingerprint: fp, Action: r.failureAction(fp != nil)})
	return nil
}

// failureAction is the after_failure the commit makes due for a message
// kept aside, whole or not: none deletes a message the server holds the
// only whole copy of. `mailtask state retry` reads it from the failure
// record, to tell whether the server still has the message.
func (r *run) failureAction(whole bool) string {
	f := r.after.Failure
	if f == nil || f.Action == config.AfterDelete && !whole {
		return config.AfterNone
	}
	return f.Action
}

// aside is what keepAside keeps of a message: kept (nil: nothing) as
// base + suffix, and the note as base + ".reason.txt".
type aside struct {
	base, suffix, note string
	kept               io.Reader
}

// reasonName is the name of the note beside stored, the name its message
// was kept under ("" when nothing of it was kept).
func (a aside) reasonName(stored string) string {
	if stored == "" {
		return a.base + ".reason.txt"
	}
	return strings.TrimSuffix(stored, a.suffix) + ".reason.txt"
}

// quarantineLocally keeps the message under state_dir, readable by its
// owner only, and returns its path: the message's, or the note's when
// nothing of it is kept.
func (r *run) quarantineLocally(_ context.Context, a aside) (string, error) {
	dir, err := sink.OpenPrivate(QuarantineDir(r.opts.Config.StateDir, r.opts.Task.Name), r.opts.Task.Name)
	if err != nil {
		return "", err
	}
	defer dir.Close()
	var stored sink.Stored
	if a.kept != nil {
		if stored, err = dir.Put(a.base+a.suffix, a.kept); err != nil {
			return "", err
		}
	}
	note, err := dir.Put(a.reasonName(stored.Name), strings.NewReader(a.note))
	if err != nil {
		return "", err
	}
	if err := dir.Sync(); err != nil {
		return "", err
	}
	if stored.Name == "" {
		stored = note
	}
	return filepath.Join(dir.Path(), stored.Name), nil
}

// quarantineShared keeps the message in the destination's quarantine
// folder, where every node finds it, and returns where it is: its path,
// or its URL in an object store.
func (r *run) quarantineShared(ctx context.Context, a aside) (string, error) {
	rel := QuarantineFolder(r.opts.Task.Name)
	dir, err := r.dest.Folder(rel)
	if err != nil {
		return "", err
	}
	put := func(name string, content io.Reader, p sink.Policy) (sink.Stored, error) {
		s, err := dir.Stage(content, p)
		if err != nil {
			return sink.Stored{}, err
		}
		return dir.PutStaged(ctx, name, s)
	}
	// A message numbered the same after a UIDVALIDITY change is another
	// message: it gets a name of its own, and its reason goes beside it.
	var stored sink.Stored
	if a.kept != nil {
		if stored, err = put(a.base+a.suffix, a.kept, sink.Policy{Collision: sink.Suffix}); err != nil {
			return "", err
		}
	}
	note, err := put(a.reasonName(stored.Name), strings.NewReader(a.note), sink.Policy{Collision: sink.Overwrite})
	if err != nil {
		return "", err
	}
	if err := r.dest.Sync(ctx); err != nil {
		return "", err
	}
	if stored.Name == "" {
		stored = note
	}
	loc := r.dest.Locate(path.Join(rel, stored.Name))
	if loc.URL != "" {
		return loc.URL, nil
	}
	return loc.Path, nil
}
