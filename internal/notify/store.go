package notify

import (
	"context"
	"log/slog"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/state"
)

// Store is where [notify] keeps what it mailed about failures and reads
// the tasks' states for the digest: the files under state_dir (a nil
// Store), or cluster mode's database (package cluster), which every node
// shares.
type Store interface {
	// Alert returns what has been mailed about task's failure going on,
	// nil when none is.
	Alert(ctx context.Context, task string) (*Alert, error)
	// UpdateAlert hands task's alert (nil: none) to fn and stores fn's
	// answer (nil: none) with the mail it found due (nil: none); fn's
	// error leaves it as it was. Callers for one task take turns from
	// the read to the write.
	UpdateAlert(ctx context.Context, task string, fn func(prev *Alert) (*Alert, *Mail, error)) error
	// SendDue hands the mails due, oldest first, to send, with what is
	// left of the Budget of the window starting at window, if there are
	// any and something is left: the window's budget is the cluster's,
	// each sender claiming from it in turn, and a later window claimed
	// ends the earlier. send says how many of the mails due it sent
	// (those are removed, the others stay) and how many mails that took
	// (they are spent from the budget); its error spends the window's
	// whole budget, so that the cluster tries the SMTP server once a
	// window, and is recorded for Outbox until a send goes out. claimed
	// is false when the mails wait for a later window. A sender holding
	// the window (sending) is waited for, at most wait: longer, the
	// error says so, and the mails stay due.
	SendDue(ctx context.Context, window time.Time, wait time.Duration, send func(due []Mail, budget int) (n, sent int, err error)) (claimed bool, err error)
	// Outbox says what is due, for `mailtask status`.
	Outbox(ctx context.Context) (Outbox, error)
	// Forget removes task's alert and the mails due about it, as
	// `mailtask state reset` forgets the task, and returns how many
	// mails it removed.
	Forget(ctx context.Context, task string) (mails int, err error)
	// Alerts returns the alerts of tasks that have one, by task; a store
	// may return those of other tasks too.
	Alerts(ctx context.Context, tasks []string) (map[string]Alert, error)
	// States reads the tasks' states for a digest: state returns a
	// task's, fresh for a task never run, or why it cannot be read.
	States(ctx context.Context) (state func(task string) (*state.State, error), err error)
	// ClaimDigest reports whether this process is to send the digest
	// scheduled at due: the one of the cluster that claims it first,
	// once due has come by the cluster's clock (the database's); before
	// that, it claims nothing and says how long to wait.
	ClaimDigest(ctx context.Context, due time.Time) (claimed bool, wait time.Duration, err error)
	// Tokens is where the OAuth2 tokens of [notify]'s account are, as
	// for the tasks' accounts: nil for the files under state_dir.
	Tokens() auth.TokenStore
}

// storeOf is s, or the files under cfg's state_dir for none, which log
// what they keep aside to log (nil: nowhere).
func storeOf(cfg *config.Config, s Store, log *slog.Logger) Store {
	if s != nil {
		return s
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return files{cfg.StateDir, log}
}

// files is the file store's Store: an alert beside each task's state
// (TASK.alert.json, 0600), the mails due in outbox/, and each process
// sending its own digest.
type files struct {
	dir string
	log *slog.Logger
}

func (f files) Alert(_ context.Context, task string) (*Alert, error) {
	return loadAlert(alertPath(f.dir, task))
}

// UpdateAlert takes no lock, as before cluster mode: the daemon runs a
// task's runs one after the other, each mailing before the next starts;
// a `mailtask run-task` ending at the same moment as the daemon's run of
// the task may mail twice.
// The mail is recorded before the alert: a crash between the two mails
// twice rather than never.
func (f files) UpdateAlert(_ context.Context, task string, fn func(*Alert) (*Alert, *Mail, error)) error {
	path := alertPath(f.dir, task)
	prev, err := loadAlert(path)
	if err != nil {
		return err
	}
	next, mail, err := fn(prev)
	if err != nil {
		return err
	}
	if mail != nil {
		if err := queueMail(f.dir, mail); err != nil {
			return err
		}
	}
	if next == nil {
		return removeAlert(path)
	}
	return saveAlert(path, next)
}

func (f files) Alerts(_ context.Context, tasks []string) (map[string]Alert, error) {
	alerts := map[string]Alert{}
	for _, t := range tasks {
		a, err := loadAlert(alertPath(f.dir, t))
		if err != nil {
			return nil, err
		}
		if a != nil {
			alerts[t] = *a
		}
	}
	return alerts, nil
}

func (f files) States(context.Context) (func(string) (*state.State, error), error) {
	return func(task string) (*state.State, error) { return state.Load(f.dir, task) }, nil
}

// ClaimDigest leaves every process to send its own digest, on its own
// clock.
func (f files) ClaimDigest(context.Context, time.Time) (bool, time.Duration, error) {
	return true, 0, nil
}

func (f files) Tokens() auth.TokenStore { return nil }
