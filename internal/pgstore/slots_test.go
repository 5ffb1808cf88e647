package pgstore

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
					if err := n.pool.QueryRow(ctx, "SELECT count(*) FROM conn_slots WHERE account = 'shared'").Scan(&held); err != nil {
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
	if n := count(t, url, "SELECT count(*) FROM conn_slots"); n != 0 {
		t.Fatalf("%d slots left after every holder released", n)
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
	// The slots that ran out are gone, not only passed over.
	if n := count(t, url, "SELECT count(*) FROM conn_slots WHERE holder = 'dead'"); n != 0 {
		t.Fatalf("%d slots of the dead node left", n)
	}
}
