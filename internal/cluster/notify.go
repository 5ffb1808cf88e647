package cluster

import (
	"context"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/diagnose"
	"mailtask/internal/notify"
	"mailtask/internal/pgstore"
	"mailtask/internal/state"
)

// Notify is where [notify] keeps what it mailed about failures and reads
// the states for the digest: the database, shared by every node, whose
// state_dir is scratch; nil for the file store.
func (n *Node) Notify() notify.Store {
	if n == nil || n.store == nil {
		return nil
	}
	return notes{n.store}
}

// notes is the database as notify.Store.
type notes struct{ store *pgstore.Store }

func (s notes) Alert(ctx context.Context, task string) (*notify.Alert, error) {
	a, err := s.store.Alert(ctx, task)
	if a == nil || err != nil {
		return nil, err
	}
	na := notify.Alert(*a)
	return &na, nil
}

// UpdateAlert holds the alert's lock in the database while fn decides:
// nodes ending runs of the task at once take turns (pgstore's
// UpdateAlert says why the task's lease does not do).
func (s notes) UpdateAlert(ctx context.Context, task string, fn func(*notify.Alert) (*notify.Alert, *notify.Mail, error)) error {
	return s.store.UpdateAlert(ctx, task, func(prev *pgstore.Alert) (*pgstore.Alert, *pgstore.Mail, error) {
		var np *notify.Alert
		if prev != nil {
			a := notify.Alert(*prev)
			np = &a
		}
		next, mail, err := fn(np)
		if err != nil {
			return nil, nil, err
		}
		var pa *pgstore.Alert
		if next != nil {
			a := pgstore.Alert(*next)
			pa = &a
		}
		var pm *pgstore.Mail
		if mail != nil {
			m := pgstore.Mail(*mail)
			pm = &m
		}
		return pa, pm, nil
	})
}

// SendDue sends a window's mails from the database's outbox, within the
// cluster's budget of the window.
func (s notes) SendDue(ctx context.Context, window time.Time, wait time.Duration, send func([]notify.Mail, int) (int, int, error)) (bool, error) {
	return s.store.SendDue(ctx, window, notify.Budget, wait, func(due []pgstore.Mail, budget int) (int, int, error) {
		mails := make([]notify.Mail, len(due))
		for i, m := range due {
			mails[i] = notify.Mail(m)
		}
		return send(mails, budget)
	}, diagnose.Hint)
}

// Outbox reads the cluster's mails due, whichever nodes recorded them, in
// two statements.
func (s notes) Outbox(ctx context.Context) (notify.Outbox, error) {
	due, failing, err := s.store.Outbox(ctx)
	if err != nil {
		return notify.Outbox{}, err
	}
	ob := notify.Outbox{Due: make(map[string]notify.TaskMails, len(due))}
	for task, tm := range due {
		ob.Due[task] = notify.TaskMails(tm)
	}
	if failing != nil {
		sf := notify.SendFailure(*failing)
		ob.Failing = &sf
	}
	return ob, nil
}

// Forget removes the task's alert and its mails due in one transaction.
func (s notes) Forget(ctx context.Context, task string) (int, error) {
	return s.store.ForgetAlert(ctx, task)
}

// Alerts reads every task's alert in one statement, whichever tasks are
// asked for.
func (s notes) Alerts(ctx context.Context, _ []string) (map[string]notify.Alert, error) {
	all, err := s.store.Alerts(ctx)
	if err != nil {
		return nil, err
	}
	alerts := make(map[string]notify.Alert, len(all))
	for task, a := range all {
		alerts[task] = notify.Alert(a)
	}
	return alerts, nil
}

// States reads every task's state in one statement.
func (s notes) States(ctx context.Context) (func(string) (*state.State, error), error) {
	all, err := s.store.States(ctx)
	if err != nil {
		return nil, err
	}
	return func(task string) (*state.State, error) {
		ts, ok := all[task]
		if !ok {
			return &state.State{Version: state.Version, Task: task}, nil
		}
		return ts.State, ts.Err
	}, nil
}

func (s notes) ClaimDigest(ctx context.Context, due time.Time) (bool, time.Duration, error) {
	return s.store.ClaimDigest(ctx, due)
}

// Tokens are the tokens `auth login` stored in the database, [notify]'s
// account's among them.
func (s notes) Tokens() auth.TokenStore { return tokens(s) }
