package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"mailtask/internal/diagnose"
	"mailtask/internal/state"
)

// outboxDir is where the file store keeps the mails due: a file each,
// TASK.NANOS.json (0600), beside the lock a process sending them holds,
// the window in which mails last went out and how many (window), the send
// that keeps failing (failing), and the records that could not be read,
// kept aside as NAME.damaged.
func outboxDir(dir string) string { return filepath.Join(dir, "outbox") }

// damagedSuffix marks a record of a mail due that could not be read: kept
// for the admin to look at, never sent.
const damagedSuffix = ".damaged"

func queueMail(dir string, m *Mail) error {
	data, err := json.Marshal(m)
	if err == nil {
		err = state.WriteFile(filepath.Join(outboxDir(dir), mailName(m.Task, m.At)), data)
	}
	if err != nil {
		return fmt.Errorf("record the mail due about task %q: %w", m.Task, err)
	}
	return nil
}

// mailName is the name of the file of a mail due about task from a run
// ending at.
func mailName(task string, at time.Time) string {
	return fmt.Sprintf("%s.%d.json", task, at.UnixNano())
}

// parseMailName is the task and time a mail's file name (mailName) holds.
func parseMailName(name string) (task string, at time.Time, ok bool) {
	task, nanos, ok := cutLast(strings.TrimSuffix(name, ".json"), ".")
	n, err := strconv.ParseInt(nanos, 10, 64)
	if !ok || err != nil {
		return "", time.Time{}, false
	}
	return task, time.Unix(0, n), true
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// lockRetry is how often a sender waiting for the outbox's lock tries it
// again: flock has no wait that a context ends, and a send takes seconds.
const lockRetry = 100 * time.Millisecond

// SendDue takes the outbox's lock, waiting at most wait for a process
// that holds it: that one sends for at most a window's budget (see
// SendDue), then this one spends what is left of the window's, or finds
// it spent and leaves its mails to the next window, as cluster mode's
// senders wait on the row of the window. The daemon and each run-task
// share the window's budget through the file window, read and written
// under the lock.
func (f files) SendDue(ctx context.Context, window time.Time, wait time.Duration, send func([]Mail, int) (int, int, error)) (bool, error) {
	out := outboxDir(f.dir)
	// Most windows have nothing to send: a look at the directory.
	if names, err := dueFiles(out); len(names) == 0 || err != nil {
		return true, err
	}
	lock := filepath.Join(out, "lock")
	fl := flock.New(lock, flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if !ok && err == nil {
		f.log.Info("another process is sending the mails due: waiting for it", "lock", lock, "at_most", wait)
		wctx, cancel := context.WithTimeout(ctx, wait)
		ok, err = fl.TryLockContext(wctx, lockRetry)
		cancel()
		if !ok && wctx.Err() != nil {
			return false, fmt.Errorf("another process has held the lock of the mails due (%s) longer than %s, longer than sending them takes (3 mails of [notify] timeout, a minute more): is a mailtask process stuck? The mails stay due: %w", lock, wait, err)
		}
	}
	if !ok || err != nil {
		return false, fmt.Errorf("lock the mails due (%s): %w", out, err)
	}
	defer fl.Unlock()
	windowPath := filepath.Join(out, "window")
	budget := Budget
	if last, spent, ok := readWindow(windowPath); ok && !last.Before(window) {
		if last.After(window) {
			return false, nil
		}
		if budget -= spent; budget <= 0 {
			return false, nil
		}
	}
	names, err := dueFiles(out) // as they are under the lock
	if err != nil {
		return true, err
	}
	type entry struct {
		mail Mail
		name string
	}
	var entries []entry
	for _, name := range names {
		path := filepath.Join(out, name)
		data, err := state.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var m Mail
		if err == nil {
			err = json.Unmarshal(data, &m)
		}
		if err != nil { // a damaged record costs its mail, not every later one
			f.keepAside(path, err)
			continue
		}
		entries = append(entries, entry{m, name})
	}
	if len(entries) == 0 {
		return true, nil
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return a.mail.At.Compare(b.mail.At) })
	due := make([]Mail, len(entries))
	for i, e := range entries {
		due[i] = e.mail
	}
	n, sent, sendErr := send(due, budget)
	spent := Budget - budget + sent
	if sendErr != nil {
		spent = Budget
	}
	errs := []error{sendErr}
	if err := state.WriteFile(windowPath, fmt.Appendf(nil, "%s\n%d\n", window.UTC().Format(time.RFC3339Nano), spent)); err != nil {
		errs = append(errs, fmt.Errorf("record the window of the mails due (%s): %w", windowPath, err))
	}
	if err := f.recordSend(window, sendErr); err != nil {
		errs = append(errs, err)
	}
	gone := make([]string, n)
	for i, e := range entries[:n] {
		gone[i] = e.name
	}
	if err := state.RemoveFiles(out, gone); err != nil {
		errs = append(errs, fmt.Errorf("remove the mails sent: %w", err))
	}
	return true, errors.Join(errs...)
}

// readWindow reads the window in which mails last went out and how many
// (file window: its start, a line, then the count); a window written
// before the count was kept counts as spent.
func readWindow(path string) (start time.Time, spent int, ok bool) {
	data, err := state.ReadFile(path)
	if err != nil {
		return time.Time{}, 0, false
	}
	first, second, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	start, err = time.Parse(time.RFC3339Nano, first)
	if err != nil {
		return time.Time{}, 0, false
	}
	if spent, err = strconv.Atoi(second); err != nil {
		spent = Budget
	}
	return start, spent, true
}

// failingPath is where the file store keeps the send that keeps failing.
func failingPath(dir string) string { return filepath.Join(outboxDir(dir), "failing") }

// recordSend records how the send in window went: a failure counted in
// with those before it, a success ending them.
func (f files) recordSend(window time.Time, sendErr error) error {
	path := failingPath(f.dir)
	if sendErr == nil {
		if err := state.RemoveFile(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("record that the mails due went out: %w", err)
		}
		return nil
	}
	next := SendFailure{Since: window, Last: window, Attempts: 1, Error: sendErr.Error(), Hint: diagnose.Hint(sendErr)}
	if prev, err := readFailing(path); err == nil && prev != nil {
		next.Since, next.Attempts = prev.Since, prev.Attempts+1
	}
	data, err := json.Marshal(next)
	if err == nil {
		err = state.WriteFile(path, data)
	}
	if err != nil {
		return fmt.Errorf("record that the mails due could not be sent: %w", err)
	}
	return nil
}

// readFailing reads the send that keeps failing, nil for none.
func readFailing(path string) (*SendFailure, error) {
	data, err := state.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var sf SendFailure
	if err == nil {
		err = json.Unmarshal(data, &sf)
	}
	if err != nil {
		return nil, fmt.Errorf("read the failed sends of the mails due (%s): %w", path, err)
	}
	return &sf, nil
}

// keepAside moves the record of a mail due at path, which could not be
// read, out of the way, to NAME.damaged beside it, and says so: its mail
// is not sent, and the admin can read what is left of it.
func (f files) keepAside(path string, why error) {
	aside := path + damagedSuffix
	if err := os.Rename(path, aside); err != nil {
		f.log.Error("a record of a mail due cannot be read, nor moved aside: remove it", "path", path, "err", why, "rename_err", err)
		return
	}
	f.log.Warn("a record of a mail due cannot be read: kept aside, its mail is not sent", "path", aside, "err", why)
}

// Outbox reads the mails due from their names, one directory listing,
// and the send that keeps failing.
func (f files) Outbox(context.Context) (Outbox, error) {
	out := outboxDir(f.dir)
	ob := Outbox{Due: map[string]TaskMails{}}
	entries, err := os.ReadDir(out)
	if errors.Is(err, fs.ErrNotExist) {
		return ob, nil
	}
	if err != nil {
		return ob, fmt.Errorf("list the mails due: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, damagedSuffix) {
			ob.Damaged = append(ob.Damaged, filepath.Join(out, name))
		}
		if !isMail(e) {
			continue
		}
		if task, at, ok := parseMailName(name); ok {
			tm := ob.Due[task]
			if tm.Mails == 0 || at.Before(tm.Oldest) {
				tm.Oldest = at
			}
			tm.Mails++
			ob.Due[task] = tm
		}
	}
	ob.Failing, err = readFailing(failingPath(f.dir))
	return ob, err
}

// Forget removes task's alert, then its mails due: a sender that has
// read them already sends them still.
func (f files) Forget(_ context.Context, task string) (int, error) {
	if err := removeAlert(alertPath(f.dir, task)); err != nil {
		return 0, err
	}
	out := outboxDir(f.dir)
	names, err := dueFiles(out)
	if err != nil {
		return 0, err
	}
	names = slices.DeleteFunc(names, func(name string) bool {
		t, _, ok := parseMailName(name)
		return !ok || t != task
	})
	if err := state.RemoveFiles(out, names); err != nil {
		return 0, fmt.Errorf("remove the mails due about task %q: %w", task, err)
	}
	return len(names), nil
}

// dueFiles are the names of the mails due in out.
func dueFiles(out string) ([]string, error) {
	entries, err := os.ReadDir(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the mails due: %w", err)
	}
	var names []string
	for _, e := range entries {
		if isMail(e) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// isMail reports whether e is the file of a mail due.
func isMail(e fs.DirEntry) bool {
	name := e.Name()
	return strings.HasSuffix(name, ".json") && !strings.HasPrefix(name, ".") && e.Type().IsRegular()
}
