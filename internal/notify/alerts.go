package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/state"
)

// Reminders of a failure that goes on wait FirstReminder after its first
// mail, then twice as long as the time before, up to MaxReminderGap: a task
// failing every five minutes is mailed about 7 times the first day and once
// a day after, not 288 times a day.
const (
	FirstReminder  = time.Hour
	MaxReminderGap = 24 * time.Hour
)

// Alert is what has been mailed about a task's failure, kept from run to
// run (and across restarts) in the Store.
type Alert struct {
	// Class is the failure's kind (class): a run failing the same way is
	// the same failure, whatever the message ids or times in its error.
	Class    string    `json:"class"`
	Since    time.Time `json:"since"` // the first failed run of this kind
	Failures int       `json:"failures"`
	Mailed   int       `json:"mailed"` // mails sent about it
	LastMail time.Time `json:"last_mail"`
}

// alertPath is where the file store keeps the alert of task: beside its
// state, 0600.
func alertPath(dir, task string) string {
	return filepath.Join(dir, task+".alert.json")
}

// RunEnded records the mail due about a run of task that ended with
// runErr (nil: it succeeded), when [notify] asks for failures (on_failure,
// the default): a mail for each new failure (a first one, or one of
// another kind than the last), reminders while the same failure goes on,
// spaced out (see FirstReminder), and a mail when the task succeeds again.
// A run cancelled by the operator tells nothing. What is due and what was
// decided are kept in store (nil: the files under state_dir), which
// decides for one run of the task at a time; the mail goes out with the
// next window (SendDue), alone or grouped with the others due then, so a
// run never waits on the SMTP server and a thousand tasks failing at once
// make one mail. A mail recorded counts as mailed: reminders follow from
// it. The error is about the store; the caller logs it, it never changes
// the run's outcome.
func RunEnded(ctx context.Context, cfg *config.Config, store Store, task string, runErr error, at time.Time, log *slog.Logger) error {
	if !cfg.Notify.SendOnFailure() || errors.Is(runErr, context.Canceled) {
		return nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A run stopped by its deadline still deserves the mail, and in
	// cluster mode the daemon's run context has ended by now (the run's
	// record gave the lease back and stopped its renewals): the record
	// does not wait on it, a minute bounds the store's round trips.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	store = storeOf(cfg, store, log)
	if runErr == nil {
		// A success with nothing mailed before, most runs, costs a read.
		if prev, err := store.Alert(ctx, task); prev == nil || err != nil {
			return err
		}
	}
	return store.UpdateAlert(ctx, task, func(prev *Alert) (*Alert, *Mail, error) {
		if runErr == nil && prev == nil {
			return nil, nil, nil
		}
		switch {
		case runErr == nil:
			return nil, &Mail{Task: task, Kind: Recovered, At: at, Class: prev.Class, Since: prev.Since, Failures: prev.Failures, Mailed: prev.Mailed}, nil
		case prev == nil || prev.Class != class(runErr):
			next := &Alert{Class: class(runErr), Since: at, Failures: 1, Mailed: 1, LastMail: at}
			return next, mailAbout(task, Failed, runErr, *next, at), nil
		}
		next := &Alert{Class: prev.Class, Since: prev.Since, Failures: prev.Failures + 1, Mailed: prev.Mailed, LastMail: prev.LastMail}
		if due := prev.LastMail.Add(reminderGap(prev.Mailed)); at.Before(due) {
			log.Info("failure not mailed: the same failure was mailed before; the next reminder is due later", "task", task, "failing_since", prev.Since, "reminder_due", due)
			return next, nil, nil
		}
		next.Mailed++
		next.LastMail = at
		return next, mailAbout(task, StillFailing, runErr, *next, at), nil
	})
}

// mailAbout is the mail due about a failed run of task, a being the alert
// with the mail counted.
func mailAbout(task, kind string, runErr error, a Alert, at time.Time) *Mail {
	return &Mail{Task: task, Kind: kind, At: at, Class: a.Class, Error: runErr.Error(), Hint: diagnose.Hint(runErr),
		Since: a.Since, Failures: a.Failures, Mailed: a.Mailed}
}

// reminderGap is how long after its mailed-th mail a failure that goes on
// is mailed again.
func reminderGap(mailed int) time.Duration {
	gap := FirstReminder
	for i := 1; i < mailed && gap < MaxReminderGap; i++ {
		gap *= 2
	}
	return min(gap, MaxReminderGap)
}

// digits are what differs between two runs failing the same way: ports,
// message numbers, times.
var digits = regexp.MustCompile(`[0-9]+`)

// class is the kind of failure err is: its hint where it has one (the
// cause an operator acts on), else its message with the numbers taken out.
func class(err error) string {
	if hint := diagnose.Hint(err); hint != "" {
		return "hint: " + hint
	}
	return "error: " + digits.ReplaceAllString(err.Error(), "#")
}

func loadAlert(path string) (*Alert, error) {
	data, err := state.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read what was mailed about failures: %w", err)
	}
	var a Alert
	if err := json.Unmarshal(data, &a); err != nil {
		// A damaged record costs at most one mail too many.
		return nil, nil
	}
	return &a, nil
}

func saveAlert(path string, a *Alert) error {
	data, err := json.MarshalIndent(a, "", "  ")
	if err == nil {
		err = state.WriteFile(path, append(data, '\n'))
	}
	if err != nil {
		return fmt.Errorf("record what was mailed about failures: %w", err)
	}
	return nil
}

// Alerted is what has been mailed about a task's failure going on, as
// `mailtask status` shows it.
type Alerted struct {
	Since    time.Time `json:"since"`    // its first failed run
	Failures int       `json:"failures"` // failed runs since
	Mailed   int       `json:"mailed"`   // mails sent about it
}

// AlertsOf returns what has been mailed about the failures going on of
// tasks that have one, by task, from store (nil: the files under
// state_dir): for a task not in it, the last run succeeded, or no mail is
// asked for.
func AlertsOf(ctx context.Context, cfg *config.Config, store Store, tasks []string) (map[string]Alerted, error) {
	all, err := storeOf(cfg, store, nil).Alerts(ctx, tasks)
	if err != nil {
		return nil, err
	}
	alerted := make(map[string]Alerted, len(all))
	for task, a := range all {
		alerted[task] = Alerted{Since: a.Since, Failures: a.Failures, Mailed: a.Mailed}
	}
	return alerted, nil
}

// Forget removes what has been mailed about task's failures, and the
// mails due about it, from store (nil: the files under state_dir), as
// `mailtask state reset` forgets the task: a failure the admin has just
// mended and reset is not mailed after the reset, and a failure after it
// is a new one, mailed with the next window. It returns how many mails
// due it removed.
func Forget(ctx context.Context, cfg *config.Config, store Store, task string) (mails int, err error) {
	return storeOf(cfg, store, nil).Forget(ctx, task)
}

func removeAlert(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("record the recovery: %w", err)
	}
	return nil
}
