package popimap

import (
	"context"
	"fmt"
	"io"
	"path"
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
	if r.opts.DryRun {
		return nil
	}
	base := strings.ReplaceAll(m.Key(), ":", "-")
	note := fmt.Sprintf("message %s of task %q could not be parsed: %v\n", m.Key(), r.opts.Task.Name, reason)
	put := r.quarantineLocally
	if r.opts.Config.SharedState() {
		put = r.quarantineShared
	}
	where, err := put(ctx, base, raw, note)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	r.st.AddFailure(state.Failure{Key: m.Key(), Reason: reason.Error(), Path: where, At: r.now()})
	return nil
}

// quarantineLocally keeps the message under state_dir, readable by its
// owner only, and returns its path.
func (r *run) quarantineLocally(_ context.Context, base string, raw *spool, note string) (string, error) {
	dir, err := sink.OpenPrivate(QuarantineDir(r.opts.Config.StateDir, r.opts.Task.Name), r.opts.Task.Name)
	if err != nil {
		return "", err
	}
	defer dir.Close()
	stored, err := dir.Put(base+".eml", raw.Reader())
	if err != nil {
		return "", err
	}
	if _, err := dir.Put(strings.TrimSuffix(stored.Name, ".eml")+".reason.txt", strings.NewReader(note)); err != nil {
		return "", err
	}
	if err := dir.Sync(); err != nil {
		return "", err
	}
	return filepath.Join(dir.Path(), stored.Name), nil
}

// quarantineShared keeps the message in the destination's quarantine
// folder, where every node finds it, and returns where it is: its path,
// or its URL in an object store.
func (r *run) quarantineShared(ctx context.Context, base string, raw *spool, note string) (string, error) {
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
	stored, err := put(base+".eml", raw.Reader(), sink.Policy{Collision: sink.Suffix})
	if err != nil {
		return "", err
	}
	if _, err := put(strings.TrimSuffix(stored.Name, ".eml")+".reason.txt", strings.NewReader(note), sink.Policy{Collision: sink.Overwrite}); err != nil {
		return "", err
	}
	if err := r.dest.Sync(ctx); err != nil {
		return "", err
	}
	loc := r.dest.Locate(path.Join(rel, stored.Name))
	if loc.URL != "" {
		return loc.URL, nil
	}
	return loc.Path, nil
}
