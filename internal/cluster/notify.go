package cluster

import (
	"context"
	"time"

	"mailtask/internal/auth"
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

// SendDue sends a window's mails from the database's outbox, once for
// the cluster.
func (s notes) SendDue(ctx context.Context, window time.Time, send func([]notify.Mail) (int, error)) (bool, error) {
	return s.store.SendDue(ctx, window, func(due []pgstore.Mail) (int, error) {
		mails := make([]notify.Mail, len(due))
		for i, m := range due {
			mails[i] = notify.Mail(m)
		}
		return send(mails)
	})
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

func (s notes) ClaimDigest(ctx context.Context, due time.Time) (bool, error) {
	return s.store.ClaimDigest(ctx, due)
}

// Tokens are the tokens `auth login` stored in the database, [notify]'s
// account's among them.
func (s notes) Tokens() auth.TokenStore { return tokens(s) }
