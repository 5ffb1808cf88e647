package popimap

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"mailtask/internal/config"
	"mailtask/internal/extract"
	"mailtask/internal/mailbox"
	"mailtask/internal/s3url"
	"mailtask/internal/state"
)

// A message kept aside whole can be taken from the copy kept, where the
// server's copy is gone (after_failure = "delete") or elsewhere (a move):
// `mailtask state retry --from-copy`. It goes the way a message a run
// receives goes (prepare, write, hooks, commit), under the task's lock or
// lease, but it comes from the copy, and no server is asked anything: its
// after-action is not carried out, the failure action having been. Its
// commit drops its failure record, so that a crash before it leaves the
// message kept aside and its files, written again by the next attempt,
// recognised as the same content (sink), as a run's re-run does.

// Left is a message kept aside that TakeCopies left so, and why.
type Left struct {
	state.Failure
	Why string
}

// NotWholeError names the messages asked for whose copy is not the whole
// message: only their header, or nothing of them, was kept.
type NotWholeError struct {
	Task     string
	Failures []state.Failure
}

func (e *NotWholeError) Error() string {
	var b strings.Builder
	keys := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		keys[i] = f.Key
		fmt.Fprintf(&b, "%s cannot be taken from a copy: %s; ", f.Key, notWhole(f))
	}
	fmt.Fprintf(&b, "once the cause is mended, `mailtask state retry %s %s` has the next run take it from the server", e.Task, strings.Join(keys, " "))
	return b.String()
}

// notWhole says what was kept of a message whose copy is not whole.
func notWhole(f state.Failure) string {
	if strings.HasSuffix(f.Path, ".header.eml") {
		return "only its header was kept, in " + f.Path
	}
	return "nothing of it was kept"
}

// TakeCopies takes the messages task kept aside whole (those under keys,
// or every one) from their copies, as a run takes a message it receives,
// and drops their failure records with their commit. It does what Run
// does with the task's lock or lease (Options.Held), and nothing with
// the mailbox. It returns what it committed, and the messages left kept
// aside, with why: one that still fails, does not match the task's rules,
// or, with no key, has no whole copy. A key kept aside under no message
// is a *state.UnknownFailureError, a key whose copy is not whole a
// *NotWholeError, and nothing is taken then.
func TakeCopies(ctx context.Context, opts Options, keys []string) (sum Summary, left []Left, err error) {
	task := opts.Task
	h, release, err := hold(ctx, opts)
	defer release()
	if err != nil {
		return sum, nil, err
	}
	failures, err := h.st.Failures(keys)
	if err != nil {
		return sum, nil, err
	}
	// Asked for by key, a copy that is not whole refuses the lot; with
	// no key, every whole copy is taken and the others are left.
	var partial []state.Failure
	var whole []state.Failure
	for _, f := range failures {
		if f.Whole() {
			whole = append(whole, f)
		} else {
			partial = append(partial, f)
		}
	}
	if len(partial) > 0 && len(keys) > 0 {
		return sum, nil, &NotWholeError{Task: task.Name, Failures: partial}
	}
	for _, f := range partial {
		left = append(left, Left{Failure: f, Why: notWhole(f) + "; `mailtask state retry " + task.Name + " " + f.Key + "` has the next run take it from the server"})
	}
	failures = whole
	r, err := newRun(opts, opts.logger().With("task", task.Name), h, opts.clock())
	if err != nil {
		return sum, nil, err
	}
	r.after = mailbox.After{Action: config.AfterNone}
	r.fromCopies = true
	defer r.close()
	if r.dest, err = r.openDestination(ctx); err != nil {
		return sum, nil, fmt.Errorf("destination: %w", err)
	}
	progress := Progress{Total: len(failures)}
	for _, f := range failures {
		got, why, err := r.takeCopy(ctx, f, &progress)
		sum = sum.plus(got)
		if err != nil {
			return sum, left, fmt.Errorf("%s: %w", f.Key, err)
		}
		if why != "" {
			left = append(left, Left{Failure: f, Why: why})
		}
	}
	return sum, left, nil
}

// takeCopy takes the message kept aside as f, committed alone: it
// returns what it committed, or why the message stays kept aside.
func (r *run) takeCopy(ctx context.Context, f state.Failure, progress *Progress) (got Summary, why string, err error) {
	m, err := keyMessage(f.Key)
	if err != nil {
		return got, "", err
	}
	body, err := r.openCopy(ctx, f)
	if err != nil {
		return got, "", err
	}
	raw, err := spoolFile(r.spoolDir, nil, body, sha256.New())
	body.Close()
	if err != nil {
		return got, "", fmt.Errorf("read the copy kept aside, %s: %w", f.Path, err)
	}
	m.Size = raw.size
	j := &job{m: m, raw: raw, ready: make(chan struct{}), prepared: r.prepareGuarded(m, raw, false)}
	close(j.ready)
	switch p := j.plan; {
	case j.err != nil && errors.Is(j.err, extract.ErrUnparseable):
		why = fmt.Sprintf("it still cannot be parsed: %v", j.err)
	case j.err != nil:
		j.release()
		return got, "", j.err
	case p != nil && p.unfit != nil:
		why = fmt.Sprintf("the destination still cannot hold it: %v", p.unfit)
	case p != nil && !p.matched:
		why = fmt.Sprintf("it does not match the task's rules (%s): nothing to take", p.why)
	}
	if why != "" {
		j.release()
		return got, why, nil
	}
	got, _, held, err := r.batch(ctx, []*job{j}, progress)
	if err != nil || len(held) == 0 {
		return got, "", err
	}
	return got, fmt.Sprintf("a hook failed: %v", errors.Join(held...)), nil
}

// keyMessage is the message a failure record's key names.
func keyMessage(key string) (mailbox.Message, error) {
	if uidl, ok := strings.CutPrefix(key, "uidl:"); ok && uidl != "" {
		return mailbox.Message{UIDL: uidl}, nil
	}
	uid, err := strconv.ParseUint(strings.TrimPrefix(key, "uid:"), 10, 32)
	if err != nil || !strings.HasPrefix(key, "uid:") || uid == 0 {
		return mailbox.Message{}, fmt.Errorf("the failure record's key %q names no message", key)
	}
	return mailbox.Message{UID: uint32(uid)}, nil
}

// openCopy opens the copy kept aside as f: a file under state_dir, or in
// cluster mode one in the destination's quarantine folder, where every
// node finds it (quarantineShared). A copy in an object store outside the
// destination (changed since) is not read: the store's settings are the
// destination's.
func (r *run) openCopy(ctx context.Context, f state.Failure) (io.ReadCloser, error) {
	if r.opts.Config.SharedState() {
		rel := path.Join(QuarantineFolder(r.opts.Task.Name), path.Base(f.Path))
		if loc := r.dest.Locate(rel); f.Path == loc.URL || f.Path == loc.Path {
			return r.dest.Open(ctx, rel)
		}
	}
	if s3url.Is(f.Path) {
		return nil, fmt.Errorf("its copy kept aside, %s, lies outside the task's destination %s (changed since it was kept aside): copy it to the folder %s there, or set the destination back for the retry",
			f.Path, r.dest.Path(), QuarantineFolder(r.opts.Task.Name))
	}
	return os.Open(f.Path)
}
