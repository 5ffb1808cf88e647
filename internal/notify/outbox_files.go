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
	"strings"
	"time"

	"github.com/gofrs/flock"

	"mailtask/internal/state"
)

// outboxDir is where the file store keeps the mails due: a file each,
// TASK.NANOS.json (0600), beside the lock a process sending them holds
// and the start of the last window in which mail went out (window).
func outboxDir(dir string) string { return filepath.Join(dir, "outbox") }

func queueMail(dir string, m *Mail) error {
	data, err := json.Marshal(m)
	if err == nil {
		err = state.WriteFile(filepath.Join(outboxDir(dir), fmt.Sprintf("%s.%d.json", m.Task, m.At.UnixNano())), data)
	}
	if err != nil {
		return fmt.Errorf("record the mail due about task %q: %w", m.Task, err)
	}
	return nil
}

// SendDue takes the outbox's lock without waiting: a process that finds
// another sending leaves its mails to it or to the next window, as one
// that finds the window taken does. The daemon and each run-task share
// the window through the file window.
func (f files) SendDue(_ context.Context, window time.Time, send func([]Mail) (int, error)) (bool, error) {
	out := outboxDir(f.dir)
	// Most windows have nothing to send: a look at the directory.
	if names, err := dueFiles(out); len(names) == 0 || err != nil {
		return true, err
	}
	fl := flock.New(filepath.Join(out, "lock"), flock.SetPermissions(0o600))
	if ok, err := fl.TryLock(); !ok || err != nil {
		if err != nil {
			err = fmt.Errorf("lock the mails due (%s): %w", out, err)
		}
		return false, err
	}
	defer fl.Unlock()
	windowPath := filepath.Join(out, "window")
	if data, err := state.ReadFile(windowPath); err == nil {
		if last, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(data))); err == nil && !last.Before(window) {
			return false, nil
		}
	}
	names, err := dueFiles(out) // as they are under the lock
	if err != nil {
		return true, err
	}
	type entry struct {
		mail Mail
		path string
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
			os.Remove(path)
			continue
		}
		entries = append(entries, entry{m, path})
	}
	if len(entries) == 0 {
		return true, nil
	}
	if err := state.WriteFile(windowPath, []byte(window.UTC().Format(time.RFC3339Nano)+"\n")); err != nil {
		return true, fmt.Errorf("record the window of the mails due (%s): %w", windowPath, err)
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return a.mail.At.Compare(b.mail.At) })
	due := make([]Mail, len(entries))
	for i, e := range entries {
		due[i] = e.mail
	}
	n, sendErr := send(due)
	for _, e := range entries[:n] {
		if err := state.RemoveFile(e.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return true, errors.Join(sendErr, fmt.Errorf("remove the mail sent: %w", err))
		}
	}
	return true, sendErr
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
		if name := e.Name(); strings.HasSuffix(name, ".json") && !strings.HasPrefix(name, ".") && e.Type().IsRegular() {
			names = append(names, name)
		}
	}
	return names, nil
}
