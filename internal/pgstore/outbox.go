package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// lockNotAvailable is SQLSTATE 55P03: lock_timeout ran out.
const lockNotAvailable = "55P03"

// Mail is a mail due about a task ([notify]), as the outbox keeps it
// until it is sent.
type Mail struct {
	Task     string
	Kind     string
	At       time.Time
	Class    string
	Error    string
	Hint     string
	Since    time.Time
	Failures int
	Mailed   int
}

func queueMail(ctx context.Context, tx pgx.Tx, m *Mail) error {
	_, err := tx.Exec(ctx, `INSERT INTO outbox (task, kind, at, class, error, hint, since, failures, mailed)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		m.Task, m.Kind, m.At, m.Class, m.Error, m.Hint, m.Since, m.Failures, m.Mailed)
	return err
}

// sendTimeout bounds how long the transaction of a window's mails may sit
// idle while they are sent: longer than [notify]'s timeout allows for
// them, so that the server never ends a transaction whose mails went out.
const sendTimeout = "4h"

// SendDue hands the mails due to send, oldest first, with what is left of
// the budget of the window starting at window (budget mails a window),
// when there are any and something is left, and removes the first n that
// send sent. The claim of the window is one statement that locks its row
// until the transaction ends, while the mails are sent: a sender coming
// to the same window, or claiming the next, waits for the first to
// record what it spent and which mails went, so that no two senders
// spend the same budget nor send the same mails. A node dying meanwhile
// leaves the mails due and the budget unspent: sent again (a duplicate
// rather than a loss). send's error spends the window's budget, so that
// the cluster tries the SMTP server once a window, and is recorded with
// its hint (from the error's types, which its text loses) for Outbox
// until a send goes out. claimed is false when the mails wait for a later
// window. The wait for a sender holding the window's row is at most wait
// (lock_timeout): longer, that sender is stuck, or its node cut off from
// the database with the transaction open, and the mails stay due.
func (s *Store) SendDue(ctx context.Context, window time.Time, budget int, wait time.Duration, send func(due []Mail, budget int) (n, sent int, err error), hint func(error) string) (claimed bool, err error) {
	var sendErr error
	claimed = true
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Most windows have nothing to send, and claim nothing; the
		// window is claimed before the mails are read, so that nodes
		// sending at once do not each take a share of them.
		var some bool
		if err := tx.QueryRow(ctx, "SELECT set_config('lock_timeout', $1, true), EXISTS (SELECT 1 FROM outbox)",
			strconv.FormatInt(max(wait.Milliseconds(), 1), 10)).Scan(nil, &some); err != nil || !some {
			return err
		}
		var left int
		err := tx.QueryRow(ctx, `
			UPDATE outbox_window SET start = $1, node = $2, claimed_at = now(),
				sent = CASE WHEN start < $1 THEN 0 ELSE sent END
			WHERE start < $1 OR start = $1 AND sent < $3
			RETURNING $3 - sent`, window, s.node, budget).Scan(&left)
		if errors.Is(err, pgx.ErrNoRows) {
			claimed = false
			return nil
		}
		if err != nil {
			return err
		}
		// Holding the window, the sender waits on no other sender:
		// lock_timeout bounds the claim only.
		if _, err := tx.Exec(ctx, "SELECT set_config('idle_in_transaction_session_timeout', $1, true), set_config('lock_timeout', '0', true)", sendTimeout); err != nil {
			return err
		}
		// Not locked: the window's row keeps other senders off them.
		rows, err := tx.Query(ctx, `SELECT id, task, kind, at, class, error, hint, since, failures, mailed
			FROM outbox ORDER BY at, id`)
		if err != nil {
			return err
		}
		var (
			ids []int64
			due []Mail
			id  int64
			m   Mail
		)
		if _, err := pgx.ForEachRow(rows, []any{&id, &m.Task, &m.Kind, &m.At, &m.Class, &m.Error, &m.Hint, &m.Since, &m.Failures, &m.Mailed}, func() error {
			ids, due = append(ids, id), append(due, m)
			return nil
		}); err != nil || len(due) == 0 {
			return err
		}
		var n, sent int
		n, sent, sendErr = send(due, left)
		spent, failure, failureHint := budget-left+sent, (*string)(nil), ""
		if sendErr != nil {
			msg := sendErr.Error()
			spent, failure, failureHint = budget, &msg, hint(sendErr)
		}
		_, err = tx.Exec(ctx, `
			WITH gone AS (DELETE FROM outbox WHERE id = ANY($1))
			UPDATE outbox_window SET sent = $2,
				failed_sends = CASE WHEN $3::text IS NULL THEN 0 ELSE failed_sends + 1 END,
				failing_since = CASE WHEN $3::text IS NULL THEN NULL ELSE coalesce(failing_since, $4) END,
				failing_last = CASE WHEN $3::text IS NULL THEN NULL ELSE $4::timestamptz END,
				send_error = coalesce($3, ''), send_hint = $5`, ids[:n], spent, failure, window, failureHint)
		return err
	})
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == lockNotAvailable {
		return false, fmt.Errorf("another node or run-task has held the window of the mails due (its row of outbox_window) longer than %s, longer than sending them takes (3 mails of [notify] timeout, a minute more): is one stuck? The mails stay due: %w", wait, err)
	}
	if err != nil {
		return claimed, fmt.Errorf("send the mails due: %w", err)
	}
	return claimed, sendErr
}

// TaskMails are the mails due about a task.
type TaskMails struct {
	Mails  int
	Oldest time.Time
}

// SendFailure is the send of the mails due that keeps failing: since the
// window of the first failure, the last's, how many, and its error and
// hint.
type SendFailure struct {
	Since, Last time.Time
	Attempts    int
	Error, Hint string
}

// Outbox reads the mails due, counted by task, and the send that keeps
// failing (nil for none), for `mailtask status`.
func (s *Store) Outbox(ctx context.Context) (map[string]TaskMails, *SendFailure, error) {
	rows, err := s.pool.Query(ctx, "SELECT task, count(*), min(at) FROM outbox GROUP BY task")
	if err != nil {
		return nil, nil, fmt.Errorf("read the mails due: %w", err)
	}
	due := map[string]TaskMails{}
	var (
		task string
		tm   TaskMails
	)
	if _, err := pgx.ForEachRow(rows, []any{&task, &tm.Mails, &tm.Oldest}, func() error {
		due[task] = tm
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("read the mails due: %w", err)
	}
	var sf SendFailure
	err = s.pool.QueryRow(ctx, `SELECT failing_since, failing_last, failed_sends, send_error, send_hint
		FROM outbox_window WHERE failed_sends > 0`).Scan(&sf.Since, &sf.Last, &sf.Attempts, &sf.Error, &sf.Hint)
	if errors.Is(err, pgx.ErrNoRows) {
		return due, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the failed sends of the mails due: %w", err)
	}
	return due, &sf, nil
}
