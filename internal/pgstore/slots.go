package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

// Slot is the right to hold one connection to an account's mailbox,
// counted across the cluster. It is leased like a task: renew it while
// the connection stays open, and close the connection if renewal fails
// (the slot may have gone to another node by then).
type Slot struct {
	Account string
	// epoch is the slot's taking, unique across the table: a slot given
	// back is taken again under a new epoch, so that a late release or
	// renewal of an earlier holder touches nothing.
	epoch int64
	store *Store
}

// TryAcquireSlot takes one of account's max connection slots, leased for
// leaseFor by the database's clock, or fails with ErrNoSlot when max are
// held, or are held and waited for (AcquireSlot): a run that waits is
// served first. Acquirers of one account take turns under an advisory
// lock, so the count never exceeds max, whatever nodes race; slots whose
// lease ran out (their node died) no longer count, and are taken again.
// It is one round trip: the statements go as one batch, which PostgreSQL
// runs as one transaction, the second seeing what others committed
// before the lock was granted (its snapshot is taken when it starts).
//
// An account's slots are rows numbered from 0, each taken and given back
// by updating it in place: the lowest free number below max is taken,
// its row inserted only the first time. An update that changes no
// indexed column and finds room in its page (the table's fillfactor
// leaves it) is a HOT update, which adds no index entry and whose dead
// version the next visit of the page prunes, where a row inserted and
// deleted by every run left dead rows and index entries that every count
// of the account's slots walked until autovacuum came by. The
// update re-checks that the slot is free on the row as it is then, so a
// renewal that got in after the count was taken keeps its slot.
//
// With preload, the same round trip reads the state of preload's task,
// which its next Load returns: a run takes its connection's slot, then
// loads its state, and needs one round trip for both.
func (s *Store) TryAcquireSlot(ctx context.Context, account string, max int, leaseFor time.Duration, preload *Lease) (*Slot, error) {
	return s.takeSlot(ctx, account, max, leaseFor, preload, notWaiting)
}

// notWaiting is the ticket of a taker that has not waited: every live
// wait of the account comes before it.
const notWaiting = math.MaxInt64

// takeSlot is TryAcquireSlot for the holder of ticket, a wait of the
// account (or notWaiting): the waits before it come first, and its own
// is renewed.
func (s *Store) takeSlot(ctx context.Context, account string, max int, leaseFor time.Duration, preload *Lease, ticket int64) (*Slot, error) {
	sl := &Slot{Account: account, store: s}
	batch := &pgx.Batch{}
	batch.Queue("SELECT pg_advisory_xact_lock(hashtextextended('mailtask conn_slots ' || $1, 0))", account)
	if ticket != notWaiting {
		batch.Queue(`UPDATE conn_slot_waits SET wait_until = clock_timestamp() + $3 * interval '1 millisecond'
			WHERE account = $1 AND ticket = $2`, account, ticket, interval(leaseFor))
	}
	taken := false
	batch.Queue(`
		WITH held AS (SELECT n FROM conn_slots WHERE account = $1 AND lease_until > clock_timestamp()),
		ahead AS (SELECT 1 FROM conn_slot_waits WHERE account = $1 AND ticket < $5 AND wait_until > clock_timestamp())
		INSERT INTO conn_slots AS s (account, n, holder, lease_until)
		SELECT $1, free.n, $2, clock_timestamp() + $3 * interval '1 millisecond'
		FROM generate_series(0, $4 - 1) AS free (n)
		WHERE (SELECT count(*) FROM held) + (SELECT count(*) FROM ahead) < $4 AND free.n NOT IN (SELECT n FROM held)
		ORDER BY free.n LIMIT 1
		ON CONFLICT (account, n) DO UPDATE
		SET holder = excluded.holder, lease_until = excluded.lease_until, epoch = DEFAULT
		WHERE s.lease_until <= clock_timestamp()
		RETURNING epoch`,
		account, s.node, interval(leaseFor), max, ticket).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&sl.epoch)
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

// AcquireSlot is TryAcquireSlot that waits until a slot is free or ctx
// ends. It waits in turn: it takes a ticket in the account's queue of
// waits (conn_slot_waits), leased for leaseFor and renewed each time it
// asks again, every poll, so that a slot given back goes to the wait
// that began first, not to whoever asks first after (migrations/0007).
func (s *Store) AcquireSlot(ctx context.Context, account string, max int, leaseFor, poll time.Duration) (*Slot, error) {
	sl, err := s.TryAcquireSlot(ctx, account, max, leaseFor, nil)
	if !errors.Is(err, ErrNoSlot) {
		return sl, err
	}
	var ticket int64
	if err := s.pool.QueryRow(ctx, `INSERT INTO conn_slot_waits (account, holder, wait_until)
		VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond') RETURNING ticket`,
		account, s.node, interval(leaseFor)).Scan(&ticket); err != nil {
		return nil, fmt.Errorf("wait for a connection slot of account %q: %w", account, err)
	}
	defer s.endWait(ctx, account, ticket)
	// The take above has just failed: the wait asks first a poll later.
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("account %q: waiting for a connection slot: %w", account, ctx.Err())
		case <-tick.C:
		}
		sl, err := s.takeSlot(ctx, account, max, leaseFor, nil, ticket)
		if !errors.Is(err, ErrNoSlot) {
			return sl, err
		}
	}
}

// endWait leaves the queue of waits, also once ctx has ended; if the
// database cannot be told, the wait stops counting when its lease runs
// out. Waits whose lease ran out (their node died) go too.
func (s *Store) endWait(ctx context.Context, account string, ticket int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endWaitTimeout)
	defer cancel()
	s.pool.Exec(ctx, "DELETE FROM conn_slot_waits WHERE account = $1 AND (ticket = $2 OR wait_until <= clock_timestamp())", account, ticket)
}

// endWaitTimeout bounds leaving the queue of waits.
const endWaitTimeout = 10 * time.Second

// Renew extends the slot's lease to leaseFor from now. It fails with
// ErrLeaseLost once the lease has run out.
func (sl *Slot) Renew(ctx context.Context, leaseFor time.Duration) error {
	var until time.Time
	renewed, err := sl.store.renew(ctx, "SELECT FROM conn_slots WHERE account = $1 AND epoch = $2 FOR UPDATE", []any{sl.Account, sl.epoch},
		`UPDATE conn_slots SET lease_until = clock_timestamp() + $3 * interval '1 millisecond'
		WHERE account = $1 AND epoch = $2 AND lease_until > clock_timestamp()
		RETURNING lease_until`, []any{sl.Account, sl.epoch, interval(leaseFor)}, &until)
	if err != nil {
		return fmt.Errorf("renew a connection slot of account %q: %w", sl.Account, err)
	}
	if !renewed {
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

// queueSlotsRelease queues giving the slots back: their rows stay, free
// (a lease that ran out at the dawn of time), for the next taker. The
// epochs alone name the slots; the accounts let the primary key find the
// rows. (A join on the three columns of each was planned anew on every
// call, and cost PostgreSQL more than the slot's taking.)
func queueSlotsRelease(batch *pgx.Batch, slots []*Slot) {
	if len(slots) == 0 {
		return
	}
	accounts, epochs := make([]string, len(slots)), make([]int64, len(slots))
	for i, sl := range slots {
		accounts[i], epochs[i] = sl.Account, sl.epoch
	}
	batch.Queue(`UPDATE conn_slots SET lease_until = '-infinity'
		WHERE account = ANY($1::text[]) AND epoch = ANY($2::bigint[])`, accounts, epochs)
}
