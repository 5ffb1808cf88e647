package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/outcome"
	"mailtask/internal/state"
)

// failure is the subject and body of the mail about m, a failed run.
func failure(m Mail) (subject, body string) {
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "The mailtask task %q failed on %s at %s.\n\n", m.Task, host, m.At.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Error:\n  %s\n", m.Error)
	if m.Hint != "" {
		fmt.Fprintf(&b, "\nHint:\n  %s\n", m.Hint)
	}
	fmt.Fprintf(&b, "\nNothing taken before the failure is lost; the next run resumes where this one stopped.\n"+
		"To see what the task remembers: mailtask state show %s\n", m.Task)
	return fmt.Sprintf("mailtask: task %q failed", m.Task), b.String()
}

// reminder is the subject and body of m, a mail about a failure that goes
// on.
func reminder(m Mail) (subject, body string) {
	_, failure := failure(m)
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "The mailtask task %q on %s is still failing, the same way: %d failed runs since %s.\n",
		m.Task, host, m.Failures, m.Since.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "The next reminder comes in %s unless it succeeds (then a mail says so) or fails another way.\n\n", reminderGap(m.Mailed))
	b.WriteString(failure)
	return fmt.Sprintf("mailtask: task %q still failing (since %s)", m.Task, m.Since.Format(time.RFC1123Z)), b.String()
}

// recovery is the subject and body of m, the mail saying a task that
// failed has succeeded again.
func recovery(m Mail) (subject, body string) {
	host, _ := os.Hostname()
	body = fmt.Sprintf("The mailtask task %q on %s succeeded at %s, after %d failed runs since %s.\n",
		m.Task, host, m.At.Format(time.RFC1123Z), m.Failures, m.Since.Format(time.RFC1123Z))
	return fmt.Sprintf("mailtask: task %q recovered", m.Task), body
}

// listedWell is how many tasks that need no look a digest lists, one
// line each; beyond it, it counts them: a digest of thousands of tasks
// stays a mail someone reads.
const listedWell = 20

// Digest is the subject and body of a summary of every task's last run,
// as load reads each task's state: first, in full, the tasks that need a
// look (last run failed, a run met a Microsoft 365 quarantine notice
// within state.NoticeKept, never succeeded, messages kept aside, state
// unreadable), then the others,
// listed in a line each when they are few, counted otherwise. It names
// the host that sends it: in cluster mode, one node sends it for the
// cluster.
func Digest(cfg *config.Config, load func(task string) (*state.State, error), now time.Time) (subject, body string) {
	host, _ := os.Hostname()
	var (
		b           strings.Builder
		look        int
		failing     int
		well, never []string
	)
	for _, t := range cfg.Tasks {
		st, err := load(t.Name)
		if err != nil {
			look++
			fmt.Fprintf(&b, "\n%s (%s → %s)\n  state unreadable: %v\n", t.Name, t.Account, t.Destination, err)
			continue
		}
		last, notice := st.LastRun, st.Notice(now)
		switch {
		case last == nil:
			never = append(never, t.Name)
			continue
		case last.Outcome != outcome.Failed && st.LastSuccess != nil && len(st.Failed) == 0 && notice == nil:
			well = append(well, fmt.Sprintf("  %s: last run %s, %s; %d saved, %d files",
				t.Name, last.Started.Format(time.RFC1123Z), last.Outcome, last.Saved, last.Files))
			continue
		}
		look++
		fmt.Fprintf(&b, "\n%s (%s → %s)\n", t.Name, t.Account, t.Destination)
		fmt.Fprintf(&b, "  last run %s: %s; %d new, %d saved, %d failed, %d files, %d bytes\n",
			last.Started.Format(time.RFC1123Z), last.Outcome, last.Seen, last.Saved, last.Failed, last.Files, last.Bytes)
		if last.Outcome == outcome.Failed {
			failing++
			fmt.Fprintf(&b, "  error: %s\n", last.Error)
			if last.Hint != "" {
				fmt.Fprintf(&b, "  hint: %s\n", last.Hint)
			}
		}
		if notice != nil {
			fmt.Fprintf(&b, "  %s\n", notice.Note(now))
		}
		switch ok := st.LastSuccess; {
		case ok == nil:
			b.WriteString("  never succeeded\n")
		case !ok.Started.Equal(last.Started):
			fmt.Fprintf(&b, "  last success %s (%s ago)\n", ok.Started.Format(time.RFC1123Z), now.Sub(ok.Started).Round(time.Minute))
		}
		if n := len(st.Failed); n > 0 {
			fmt.Fprintf(&b, "  %d messages kept aside as failed (mailtask state show %s)\n", n, t.Name)
		}
	}
	var head strings.Builder
	fmt.Fprintf(&head, "mailtask on %s, %s\n", host, now.Format(time.RFC1123Z))
	fmt.Fprintf(&head, "%d tasks: %d need a look, %d well, %d not run yet\n", len(cfg.Tasks), look, len(well), len(never))
	if look > 0 {
		head.WriteString("\nNeed a look:\n")
	}
	head.WriteString(b.String())
	if len(well) > 0 {
		fmt.Fprintf(&head, "\nWell (last run succeeded): %d\n", len(well))
		if len(well) <= listedWell {
			head.WriteString(strings.Join(well, "\n") + "\n")
		}
	}
	if len(never) > 0 {
		fmt.Fprintf(&head, "\nNot run yet: %d\n", len(never))
		if len(never) <= listedWell {
			head.WriteString("  " + strings.Join(never, ", ") + "\n")
		}
	}
	switch {
	case failing > 0:
		subject = fmt.Sprintf("mailtask digest: %d of %d tasks failing", failing, len(cfg.Tasks))
	case look > 0:
		subject = fmt.Sprintf("mailtask digest: %d of %d tasks need a look", look, len(cfg.Tasks))
	default:
		subject = fmt.Sprintf("mailtask digest: %d tasks, all well", len(cfg.Tasks))
	}
	return subject, head.String()
}

// SendDigest mails the digest of every task now, from the states in store
// (nil: the files under state_dir).
func SendDigest(ctx context.Context, cfg *config.Config, store Store, now time.Time, log *slog.Logger) error {
	m, err := New(cfg, store, log)
	if err != nil {
		return err
	}
	if m == nil {
		return errors.New("no [notify] section in the configuration")
	}
	load, err := storeOf(cfg, store, nil).States(ctx)
	if err != nil {
		return err
	}
	subject, body := Digest(cfg, load, now)
	return m.Send(ctx, subject, body)
}
