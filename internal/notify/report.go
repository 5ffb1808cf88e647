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
	"mailtask/internal/diagnose"
	"mailtask/internal/state"
)

// Failure is the subject and body of the mail about a failed run of task.
func Failure(task string, runErr error, at time.Time) (subject, body string) {
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "The mailtask task %q failed on %s at %s.\n\n", task, host, at.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Error:\n  %s\n", runErr)
	if hint := diagnose.Hint(runErr); hint != "" {
		fmt.Fprintf(&b, "\nHint:\n  %s\n", hint)
	}
	fmt.Fprintf(&b, "\nNothing taken before the failure is lost; the next run resumes where this one stopped.\n"+
		"To see what the task remembers: mailtask state show %s\n", task)
	return fmt.Sprintf("mailtask: task %q failed", task), b.String()
}

// reminder is the subject and body of a mail about a failure that goes
// on, a of them so far.
func reminder(task string, runErr error, a alert, at time.Time) (subject, body string) {
	_, failure := Failure(task, runErr, at)
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "The mailtask task %q on %s is still failing, the same way: %d failed runs since %s.\n",
		task, host, a.Failures, a.Since.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "The next reminder comes in %s unless it succeeds (then a mail says so) or fails another way.\n\n", reminderGap(a.Mailed+1))
	b.WriteString(failure)
	return fmt.Sprintf("mailtask: task %q still failing (since %s)", task, a.Since.Format(time.RFC1123Z)), b.String()
}

// recovery is the subject and body of the mail saying a task that failed
// (a) has succeeded again.
func recovery(task string, a alert, at time.Time) (subject, body string) {
	host, _ := os.Hostname()
	body = fmt.Sprintf("The mailtask task %q on %s succeeded at %s, after %d failed runs since %s.\n",
		task, host, at.Format(time.RFC1123Z), a.Failures, a.Since.Format(time.RFC1123Z))
	return fmt.Sprintf("mailtask: task %q recovered", task), body
}

// Digest is the subject and body of a summary of every task's last run, as
// recorded in the state files.
func Digest(cfg *config.Config, now time.Time) (subject, body string, err error) {
	host, _ := os.Hostname()
	var b strings.Builder
	failing := 0
	fmt.Fprintf(&b, "mailtask on %s, %s\n", host, now.Format(time.RFC1123Z))
	for _, t := range cfg.Tasks {
		st, err := state.Load(cfg.StateDir, t.Name)
		if err != nil {
			return "", "", err
		}
		fmt.Fprintf(&b, "\n%s (%s → %s)\n", t.Name, t.Account, t.Destination)
		last := st.LastRun
		if last == nil {
			b.WriteString("  has not run yet\n")
			continue
		}
		fmt.Fprintf(&b, "  last run %s: %s; %d new, %d saved, %d failed, %d files, %d bytes\n",
			last.Started.Format(time.RFC1123Z), last.Outcome, last.Seen, last.Saved, last.Failed, last.Files, last.Bytes)
		if last.Outcome == "failed" {
			failing++
			fmt.Fprintf(&b, "  error: %s\n", last.Error)
			if last.Hint != "" {
				fmt.Fprintf(&b, "  hint: %s\n", last.Hint)
			}
		}
		switch ok := st.LastSuccess; {
		case ok == nil:
			b.WriteString("  never succeeded\n")
		case !ok.Started.Equal(last.Started):
			fmt.Fprintf(&b, "  last success %s (%s ago)\n", ok.Started.Format(time.RFC1123Z), now.Sub(ok.Started).Round(time.Minute))
		}
		if n := len(st.Failed); n > 0 {
			fmt.Fprintf(&b, "  %d messages could not be parsed; they are kept in %s\n", n, cfg.StateDir)
		}
	}
	subject = fmt.Sprintf("mailtask digest: %d tasks, all well", len(cfg.Tasks))
	if failing > 0 {
		subject = fmt.Sprintf("mailtask digest: %d of %d tasks failing", failing, len(cfg.Tasks))
	}
	return subject, b.String(), nil
}

// SendDigest mails the digest of every task now.
func SendDigest(ctx context.Context, cfg *config.Config, now time.Time, log *slog.Logger) error {
	m, err := New(cfg, log)
	if err != nil {
		return err
	}
	if m == nil {
		return errors.New("no [notify] section in the configuration")
	}
	subject, body, err := Digest(cfg, now)
	if err != nil {
		return err
	}
	return m.Send(ctx, subject, body)
}
