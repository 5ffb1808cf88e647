package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Alert is what has been mailed about a task's failure going on
// ([notify]), as the alerts table keeps it.
type Alert struct {
	Class    string
	Since    time.Time
	Failures int
	Mailed   int
	LastMail time.Time
}

// alertLockClass is the first key of the advisory locks of alerts (the
// two-key space, apart from the schema's one-key lock); the second is a
// hash of the task's name, whose collisions only make two tasks take
// turns.
const alertLockClass = 0x616c7274 // "alrt"

// AlertUpdate decides, from a task's alert (nil for none), what it is to
// be (nil for none) and which mail it makes due (nil for none). Its error
// leaves the alert as it was.
type AlertUpdate func(prev *Alert) (next *Alert, mail *Mail, err error)

// UpdateAlert hands the alert of task to fn and stores fn's answer, and
// the mail it made due in the outbox, under a lock of the task's alert
// held from the read to the write: nodes ending runs of the same task at
// once (a run's lease is given back with its record, before its alert; a
// node paused past its lease) decide one after the other, the second
// seeing what the first decided.
func (s *Store) UpdateAlert(ctx context.Context, task string, fn AlertUpdate) error {
	var fnErr error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", alertLockClass, task); err != nil {
			return err
		}
		prev, err := readAlert(ctx, tx, task)
		if err != nil {
			return err
		}
		next, mail, err := fn(prev)
		if err != nil {
			fnErr = err
			return err
		}
		if mail != nil {
			if err := queueMail(ctx, tx, mail); err != nil {
				return err
			}
		}
		if next == nil {
			_, err = tx.Exec(ctx, "DELETE FROM alerts WHERE task = $1", task)
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO alerts (task, class, since, failures, mailed, last_mail) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (task) DO UPDATE SET class = $2, since = $3, failures = $4, mailed = $5, last_mail = $6`,
			task, next.Class, next.Since, next.Failures, next.Mailed, next.LastMail)
		return err
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("record what was mailed about task %q: %w", task, err)
	}
	return nil
}

// Alert reads the alert of task, nil for none, without a lock: a run that
// succeeded looks whether there is a recovery to mail in one statement.
func (s *Store) Alert(ctx context.Context, task string) (*Alert, error) {
	a, err := readAlert(ctx, s.pool, task)
	if err != nil {
		return nil, fmt.Errorf("read what was mailed about task %q: %w", task, err)
	}
	return a, nil
}

func readAlert(ctx context.Context, q querier, task string) (*Alert, error) {
	var a Alert
	err := q.QueryRow(ctx, "SELECT class, since, failures, mailed, last_mail FROM alerts WHERE task = $1", task).
		Scan(&a.Class, &a.Since, &a.Failures, &a.Mailed, &a.LastMail)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// Alerts reads the alert of every task that has one, in one statement,
// for `mailtask status`.
func (s *Store) Alerts(ctx context.Context) (map[string]Alert, error) {
	rows, err := s.pool.Query(ctx, "SELECT task, class, since, failures, mailed, last_mail FROM alerts")
	if err != nil {
		return nil, fmt.Errorf("read what was mailed about failures: %w", err)
	}
	alerts := map[string]Alert{}
	var (
		task string
		a    Alert
	)
	_, err = pgx.ForEachRow(rows, []any{&task, &a.Class, &a.Since, &a.Failures, &a.Mailed, &a.LastMail}, func() error {
		alerts[task] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read what was mailed about failures: %w", err)
	}
	return alerts, nil
}

// ForgetAlert removes the alert of task and the mails due about it, as
// `mailtask state reset` forgets the task, and returns how many mails it
// removed. It takes the alert's lock, so that it waits for a run deciding
// about it rather than being undone by its record; a sender that has
// read the mails already sends them still.
func (s *Store) ForgetAlert(ctx context.Context, task string) (mails int, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", alertLockClass, task); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM alerts WHERE task = $1", task); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "DELETE FROM outbox WHERE task = $1", task)
		mails = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("forget what was mailed about task %q: %w", task, err)
	}
	return mails, nil
}

// digestHistory is how long the claims of digests are kept, for an
// operator asking which node sent one.
const digestHistory = "31 days"

// ClaimDigest reports whether this node is the one to send the digest
// scheduled at due: the first node of the cluster to claim it, unless a
// later digest was claimed already (a node whose clock runs behind the
// others' comes to an earlier one late). The database's clock says when
// due has come, as it times the leases: a node whose clock runs ahead
// comes to it early and is told how long to wait (wait, by the
// database's clock) before asking again, rather than sending early, or
// claiming the next schedule's too. A claimed digest stays claimed
// whether or not its mail goes out (README: a node dying before it sends
// loses that digest rather than sending it twice). Claims older than
// digestHistory are removed as a new one is made: only the latest decides.
func (s *Store) ClaimDigest(ctx context.Context, due time.Time) (claimed bool, wait time.Duration, err error) {
	var now time.Time
	err = s.pool.QueryRow(ctx, `
		WITH old AS (DELETE FROM digests WHERE due < $1::timestamptz - $3::interval AND $1 <= now()),
		claim AS (
			INSERT INTO digests (due, node) SELECT $1, $2
			WHERE $1 <= now() AND NOT EXISTS (SELECT 1 FROM digests WHERE due >= $1)
			ON CONFLICT (due) DO NOTHING
			RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM claim), now()`, due, s.node, digestHistory).Scan(&claimed, &now)
	if err != nil {
		return false, 0, fmt.Errorf("claim the digest due at %s: %w", due.Format(time.RFC3339), err)
	}
	return claimed, max(due.Sub(now), 0), nil
}
