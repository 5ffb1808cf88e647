package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Slot is the right to hold one connection to an account's mailbox,
// counted across the cluster. It is leased like a task: renew it while
// the connection stays open, and close the connection if renewal fails
// (the slot may have gone to another node by then).
type Slot struct {
	Account string
	id      int64
	store   *Store
}

// TryAcquireSlot takes one of account's max connection slots, leased for
// leaseFor by the database's clock, or fails with ErrNoSlot when max are
// held. Acquirers of one account take turns under an advisory lock, so
// the count never exceeds max, whatever nodes race; slots whose lease ran
// out (their node died) no longer count, and are removed. It is one round
// trip: the statements go as one batch, which PostgreSQL runs as one
// transaction, the second seeing what others committed before the lock
// was granted (its snapshot is taken when it starts).
//
// With preload, the same round trip reads the state of preload's task,
// which its next Load returns: a run takes its connection's slot, then
// loads its state, and needs one round trip for both.
func (s *Store) TryAcquireSlot(ctx context.Context, account string, max int, leaseFor time.Duration, preload *Lease) (*Slot, error) {
	sl := &Slot{Account: account, store: s}
	batch := &pgx.Batch{}
	batch.Queue("SELECT pg_advisory_xact_lock(hashtextextended('mailtask conn_slots ' || $1, 0))", account)
	taken := false
	batch.Queue(`
		WITH expired AS (DELETE FROM conn_slots WHERE account = $1 AND lease_until <= clock_timestamp())
		INSERT INTO conn_slots (account, holder, lease_until)
		SELECT $1, $2, clock_timestamp() + $3 * interval '1 millisecond'
		WHERE (SELECT count(*) FROM conn_slots WHERE account = $1 AND lease_until > clock_timestamp()) < $4
		RETURNING id`,
		account, s.node, interval(leaseFor), max).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&sl.id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		taken = err == nil
		return err
	})
	var read *loaded
	if preload != nil {
		read = s.queueLoad(batch, preload.Task, true)
	}
	if err := s.pool.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("take a connection slot of account %q: %w", account, err)
	}
	if !taken {
		return nil, fmt.Errorf("account %q (max_connections = %d): %w", account, max, ErrNoSlot)
	}
	if preload != nil {
		preload.mu.Lock()
		preload.preloaded = read
		preload.mu.Unlock()
	}
	return sl, nil
}

// AcquireSlot is TryAcquireSlot that waits, trying again every poll, until
// a slot is free or ctx ends.
func (s *Store) AcquireSlot(ctx context.Context, account string, max int, leaseFor, poll time.Duration) (*Slot, error) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		sl, err := s.TryAcquireSlot(ctx, account, max, leaseFor, nil)
		if !errors.Is(err, ErrNoSlot) {
			return sl, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("account %q: waiting for a connection slot: %w", account, ctx.Err())
		case <-tick.C:
		}
	}
}

// Renew extends the slot's lease to leaseFor from now. It fails with
// ErrLeaseLost once the lease has run out.
func (sl *Slot) Renew(ctx context.Context, leaseFor time.Duration) error {
	tag, err := sl.store.pool.Exec(ctx, `UPDATE conn_slots SET lease_until = clock_timestamp() + $2 * interval '1 millisecond'
		WHERE id = $1 AND lease_until > clock_timestamp()`, sl.id, interval(leaseFor))
	if err != nil {
		return fmt.Errorf("renew a connection slot of account %q: %w", sl.Account, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("connection slot of account %q: %w", sl.Account, ErrLeaseLost)
	}
	return nil
}

// Keep renews the slot every `every` until ctx ends (nil) or the slot is
// lost (an error wrapping ErrLeaseLost), as Lease.Keep does a lease.
func (sl *Slot) Keep(ctx context.Context, leaseFor, every time.Duration) error {
	return keep(ctx, leaseFor, every, sl.Renew, func() error {
		return fmt.Errorf("connection slot of account %q: not renewed in time: %w", sl.Account, ErrLeaseLost)
	})
}

// Release gives the slot back.
func (sl *Slot) Release(ctx context.Context) error {
	batch := &pgx.Batch{}
	queueSlotsRelease(batch, []*Slot{sl})
	if err := sl.store.pool.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("release a connection slot of account %q: %w", sl.Account, err)
	}
	return nil
}

// queueSlotsRelease queues giving the slots back.
func queueSlotsRelease(batch *pgx.Batch, slots []*Slot) {
	if len(slots) == 0 {
		return
	}
	ids := make([]int64, len(slots))
	for i, sl := range slots {
		ids[i] = sl.id
	}
	batch.Queue("DELETE FROM conn_slots WHERE id = ANY($1::bigint[])", ids)
}
