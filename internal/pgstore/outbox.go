package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

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

// SendDue hands the mails due to send, oldest first, when there are any
// and this node is the first to claim the window starting at window (no
// later one claimed), and removes the first n that send sent. The
// window's row stays locked while they are sent, so that another node
// coming to the same window waits to find it taken; the mails stay
// locked (FOR UPDATE), so that a node claiming the next window meanwhile
// sends only mails due since; a node dying
// meanwhile leaves them due, sent again with a later window (a duplicate
// rather than a loss). The window's claim is kept whatever send says:
// the cluster tries the SMTP server once a window. claimed is false when
// the mails wait for a later window.
func (s *Store) SendDue(ctx context.Context, window time.Time, send func([]Mail) (int, error)) (claimed bool, err error) {
	var sendErr error
	claimed = true
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Most windows have nothing to send, and claim nothing; the
		// window is claimed before the mails are read, so that nodes
		// sending at once do not each take a share of them.
		var some bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM outbox)").Scan(&some); err != nil || !some {
			return err
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO outbox_window (start, node) VALUES ($1, $2)
			ON CONFLICT (one) DO UPDATE SET start = $1, node = $2, claimed_at = now() WHERE outbox_window.start < $1`, window, s.node)
		if err != nil {
			return err
		}
		if claimed = tag.RowsAffected() == 1; !claimed {
			return nil
		}
		if _, err := tx.Exec(ctx, "SELECT set_config('idle_in_transaction_session_timeout', $1, true)", sendTimeout); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, task, kind, at, class, error, hint, since, failures, mailed
			FROM outbox ORDER BY at, id FOR UPDATE SKIP LOCKED`)
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
		var n int
		n, sendErr = send(due)
		_, err = tx.Exec(ctx, "DELETE FROM outbox WHERE id = ANY($1)", ids[:n])
		return err
	})
	if err != nil {
		return claimed, fmt.Errorf("send the mails due: %w", err)
	}
	return claimed, sendErr
}
