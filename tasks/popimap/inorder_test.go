package popimap

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestInOrderKeyOrder checks that calls sharing a key run one after
// another in index order while the others overlap them: call 0 holds on
// until call 2, of another key, has ended, and call 1, of call 0's key,
// must not start before call 0 ends.
func TestInOrderKeyOrder(t *testing.T) {
	var (
		mu     sync.Mutex
		events []string
	)
	// Call 3 names one key twice, as a message with two attachments of
	// one name does: it must not wait for itself.
	keys := [][]string{{"a"}, {"a"}, {"b"}, {"c", "c"}}
	note := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	twoEnded := make(chan struct{})
	ran, err := inOrder(context.Background(), 3, keys, func(_ context.Context, i int) error {
		note("start " + string(rune('0'+i)))
		if i == 0 {
			<-twoEnded
		}
		note("end " + string(rune('0'+i)))
		if i == 2 {
			close(twoEnded)
		}
		return nil
	})
	if err != nil || !slices.Equal(ran, []bool{true, true, true, true}) {
		t.Fatalf("ran %v, err %v", ran, err)
	}
	at := func(e string) int { return slices.Index(events, e) }
	if at("start 1") < at("end 0") {
		t.Errorf("call 1 started before call 0, of the same key, ended: %q", events)
	}
}

// TestInOrderChain checks a long chain of one key under a limit that
// lets many calls wait at once: they run in index order, never two at a
// time.
func TestInOrderChain(t *testing.T) {
	const n = 40
	keys := make([][]string, n)
	for i := range keys {
		keys[i] = []string{"x.pdf", "other"}
		if i%2 == 0 {
			keys[i] = []string{"x.pdf"}
		}
	}
	var (
		mu       sync.Mutex
		order    []int
		inFlight atomic.Int32
	)
	_, err := inOrder(context.Background(), 8, keys, func(_ context.Context, i int) error {
		if inFlight.Add(1) > 1 {
			t.Errorf("call %d overlaps another of its key", i)
		}
		mu.Lock()
		order = append(order, i)
		mu.Unlock()
		inFlight.Add(-1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, got := range order {
		if got != i {
			t.Fatalf("calls ran in the order %v", order)
		}
	}
}

// TestInOrderLimit checks that no more than limit calls run at once, and
// that limit 1 runs calls of different keys in index order.
func TestInOrderLimit(t *testing.T) {
	for _, limit := range []int{1, 3} {
		var (
			mu           sync.Mutex
			order        []int
			inFlight     atomic.Int32
			most         atomic.Int32
			distinctKeys = [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}, {"f"}, {"g"}, {"h"}}
		)
		_, err := inOrder(context.Background(), limit, distinctKeys, func(_ context.Context, i int) error {
			now := inFlight.Add(1)
			for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			inFlight.Add(-1)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if most.Load() > int32(limit) {
			t.Errorf("limit %d: %d calls ran at once", limit, most.Load())
		}
		if limit == 1 && !slices.IsSorted(order) {
			t.Errorf("limit 1: calls ran in the order %v", order)
		}
	}
}

// TestInOrderError checks that a failure stops the calls not yet started
// and is what inOrder returns, rather than the stop an earlier call, still
// running, saw.
func TestInOrderError(t *testing.T) {
	failed := errors.New("put refused")
	zeroStarted := make(chan struct{})
	ran, err := inOrder(context.Background(), 2, [][]string{nil, nil, nil, nil}, func(ctx context.Context, i int) error {
		switch i {
		case 0:
			close(zeroStarted)
			<-ctx.Done() // a put in flight when another fails
			return ctx.Err()
		case 1:
			<-zeroStarted
			return failed
		}
		return nil
	})
	if !errors.Is(err, failed) {
		t.Errorf("err = %v, want %v", err, failed)
	}
	if !ran[0] || !ran[1] || ran[2] || ran[3] {
		t.Errorf("ran %v, want the first two only", ran)
	}
}

// TestInOrderStopped checks that calls do not start once the run is
// stopped, and that inOrder says so.
func TestInOrderStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ran, err := inOrder(ctx, 1, [][]string{nil, nil, nil}, func(_ context.Context, i int) error {
		if i == 0 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || !ran[0] || ran[1] || ran[2] {
		t.Errorf("ran %v, err %v: want the first only, and context.Canceled", ran, err)
	}
}
