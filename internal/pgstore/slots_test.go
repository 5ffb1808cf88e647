package pgstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailtask/internal/testmail/postgres"
)

func TestConnectionSlotsNeverExceedTheCap(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	const max = 3
	nodes := []*Store{openNode(t, url, "a"), openNode(t, url, "b"), openNode(t, url, "c")}
	var (
		peak, taken atomic.Int64
		wg          sync.WaitGroup
		mu          sync.Mutex
		errs        []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, n := range nodes {
		for range 4 {
			wg.Go(func() {
				for range 15 {
					sl, err := n.TryAcquireSlot(ctx, "shared", max, time.Hour, nil)
					if errors.Is(err, ErrNoSlot) {
						continue
					}
					if err != nil {
						fail(err)
						return
					}
					taken.Add(1)
					// While the slot is held, count what the cluster holds.
					var held int64
					if err := n.pool.QueryRow(ctx, "SELECT count(*) FROM conn_slots WHERE account = 'shared' AND lease_until > now()").Scan(&held); err != nil {
						fail(err)
						return
					}
					for p := peak.Load(); held > p && !peak.CompareAndSwap(p, held); p = peak.Load() {
					}
					if err := sl.Release(ctx); err != nil {
						fail(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p > max {
		t.Fatalf("%d connections held at once across the nodes, max_connections is %d", p, max)
	}
	if taken.Load() == 0 {
		t.Fatal("no acquirer ever got a slot")
	}
	if n := count(t, url, "SELECT count(*) FROM conn_slots WHERE lease_until > now()"); n != 0 {
		t.Fatalf("%d slots left after every holder released", n)
	}
	// Given back, a slot's row stays for the next taker, who updates it
	// in place: the account has a row per slot held at once, whatever
	// the number of takings.
	if n := count(t, url, "SELECT count(*) FROM conn_slots"); n < 1 || n > max {
		t.Fatalf("%d rows of slots after %d takings of %d slots, want 1 to %d", n, taken.Load(), max, max)
	}
}

func TestSlotsOfADeadNodeExpire(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	dead, alive := openNode(t, url, "dead"), openNode(t, url, "alive")
	var slots []*Slot
	for range 2 {
		sl, err := dead.TryAcquireSlot(ctx, "acct", 2, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		slots = append(slots, sl)
	}
	if _, err := alive.TryAcquireSlot(ctx, "acct", 2, time.Hour, nil); !errors.Is(err, ErrNoSlot) {
		t.Fatalf("a third slot of two: %v, want ErrNoSlot", err)
	}
	if _, err := alive.TryAcquireSlot(ctx, "other-account", 2, time.Hour, nil); err != nil {
		t.Fatalf("another account's slot: %v", err)
	}
	sql(t, url, "UPDATE conn_slots SET lease_until = now() - interval '1 second' WHERE holder = 'dead'")
	sl, err := alive.AcquireSlot(ctx, "acct", 2, time.Hour, 10*time.Millisecond)
	if err != nil {
		t.Fatalf("a slot after the dead node's ran out: %v", err)
	}
	if err := slots[0].Renew(ctx, time.Hour); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("renewing a slot that ran out: %v, want ErrLeaseLost", err)
	}
	if err := sl.Renew(ctx, time.Hour); err != nil {
		t.Fatalf("renewing a live slot: %v", err)
	}
	second, err := alive.TryAcquireSlot(ctx, "acct", 2, time.Hour, nil)
	if err != nil {
		t.Fatalf("a second slot after the dead node's ran out: %v", err)
	}
	// A late release by the dead node gives back nothing of what the
	// alive one took since, in the same rows.
	if err := slots[1].Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.Renew(ctx, time.Hour); err != nil {
		t.Fatalf("renewing a slot another holder had before: %v", err)
	}
	if _, err := alive.TryAcquireSlot(ctx, "acct", 2, time.Hour, nil); !errors.Is(err, ErrNoSlot) {
		t.Fatalf("a third slot of two after the dead node's late release: %v, want ErrNoSlot", err)
	}
	// The slots that ran out were taken again, not passed over: the
	// account has no more rows than its cap, however many takings.
	if n := count(t, url, "SELECT count(*) FROM conn_slots WHERE account = 'acct'"); n != 2 {
		t.Fatalf("%d rows of the account's slots, want its 2", n)
	}
}

// The migration to slots kept in place keeps the slots held when it runs,
// so that the cap holds while they run out, and drops those that ran out.
func TestMigratingSlotsKeepsThoseHeld(t *testing.T) {
	url := postgres.Shared(t).NewDatabase(t)
	migrateTo(t, url, 5)
	sql(t, url, `INSERT INTO conn_slots (account, holder, lease_until) VALUES
		('a', 'old', now() + interval '1 hour'), ('a', 'old', now() - interval '1 second'), ('a', 'old', now() + interval '1 hour')`)
	if _, err := Migrate(testContext(t), url); err != nil {
		t.Fatal(err)
	}
	if n := count(t, url, "SELECT count(*) FROM conn_slots WHERE account = 'a' AND lease_until > now()"); n != 2 {
		t.Fatalf("%d slots held after the migration, want the 2 held before", n)
	}
	s := openNode(t, url, "new")
	ctx := testContext(t)
	if _, err := s.TryAcquireSlot(ctx, "a", 3, time.Hour, nil); err != nil {
		t.Fatalf("a third slot of three: %v", err)
	}
	if _, err := s.TryAcquireSlot(ctx, "a", 3, time.Hour, nil); !errors.Is(err, ErrNoSlot) {
		t.Fatalf("a fourth slot of three: %v, want ErrNoSlot", err)
	}
}

// A slot given back goes to the taker that has waited for it longest, not
// to whoever asks first after: a run that polled for it lost it, every
// time, to fresh takers (a task due again at once, a run's further
// connections), which ask the moment they need one.
func TestAWaitingTakerIsServedBeforeAFreshOne(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	// Asking again as seldom as a node does, the waiter seldom asks
	// between the release and the fresh taker's ask.
	held, wait := waitBehind(t, ctx, url, 500*time.Millisecond)
	fresh := openNode(t, url, "fresh")
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.TryAcquireSlot(ctx, "acct", 1, time.Hour, nil); !errors.Is(err, ErrNoSlot) {
		t.Fatalf("a fresh taker while another waits for the slot given back: %v, want ErrNoSlot", err)
	}
	got := <-wait
	if got.err != nil {
		t.Fatalf("the waiting taker got no slot: %v", got.err)
	}
	if n := count(t, url, "SELECT count(*) FROM conn_slot_waits"); n != 0 {
		t.Fatalf("%d waits left once the waiter had its slot", n)
	}
	if err := got.slot.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.TryAcquireSlot(ctx, "acct", 1, time.Hour, nil); err != nil {
		t.Fatalf("a fresh taker once nobody waits: %v", err)
	}
}

// A wait given up leaves the queue, and one whose node died stops
// counting when its lease has run out: neither holds back a slot.
func TestAWaitGivenUpOrRunOutHoldsNothingBack(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	waitCtx, giveUp := context.WithCancel(ctx)
	held, wait := waitBehind(t, waitCtx, url, 20*time.Millisecond)
	giveUp()
	if got := <-wait; !errors.Is(got.err, context.Canceled) {
		t.Fatalf("a wait given up: %v, want context.Canceled", got.err)
	}
	if n := count(t, url, "SELECT count(*) FROM conn_slot_waits"); n != 0 {
		t.Fatalf("%d waits left after the waiter gave up", n)
	}
	sql(t, url, "INSERT INTO conn_slot_waits (account, holder, wait_until) VALUES ('acct', 'dead', now() - interval '1 second')")
	if err := held.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := openNode(t, url, "fresh").TryAcquireSlot(ctx, "acct", 1, time.Hour, nil); err != nil {
		t.Fatalf("a fresh taker behind a wait that ran out: %v", err)
	}
}

// waited is how a wait for a slot ended.
type waited struct {
	slot *Slot
	err  error
}

// waitBehind gives account "acct" one slot, held by node "holder", and
// returns once node "waiter" waits for it in the queue (AcquireSlot under
// ctx, asking every poll); how the wait ends comes on the channel.
func waitBehind(t *testing.T, ctx context.Context, url string, poll time.Duration) (*Slot, <-chan waited) {
	t.Helper()
	held, err := openNode(t, url, "holder").TryAcquireSlot(ctx, "acct", 1, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	waiter := openNode(t, url, "waiter")
	wait := make(chan waited, 1)
	go func() {
		sl, err := waiter.AcquireSlot(ctx, "acct", 1, time.Hour, poll)
		wait <- waited{sl, err}
	}()
	waitForRows(t, url, "SELECT count(*) FROM conn_slot_waits WHERE account = 'acct'", 1)
	return held, wait
}

// waitForRows polls query, a count, until it is want.
func waitForRows(t *testing.T, url, query string, want int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); count(t, url, query) != want; {
		if time.Now().After(deadline) {
			t.Fatalf("%s never came to %d", query, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
