package popimap

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/extract"
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
	var calls recorder
	_, err := inOrder(context.Background(), 8, keys, func(_ context.Context, i int) error {
		calls.call(i)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls.most.Load() > 1 {
		t.Errorf("%d calls of one key ran at once", calls.most.Load())
	}
	for i, got := range calls.order {
		if got != i {
			t.Fatalf("calls ran in the order %v", calls.order)
		}
	}
}

// TestInOrderLimit checks that no more than limit calls run at once, and
// that limit 1 runs calls of different keys in index order.
func TestInOrderLimit(t *testing.T) {
	distinctKeys := [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}, {"f"}, {"g"}, {"h"}}
	for _, limit := range []int{1, 3} {
		var calls recorder
		_, err := inOrder(context.Background(), limit, distinctKeys, func(_ context.Context, i int) error {
			calls.call(i)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if calls.most.Load() > int32(limit) {
			t.Errorf("limit %d: %d calls ran at once", limit, calls.most.Load())
		}
		if limit == 1 && !slices.IsSorted(calls.order) {
			t.Errorf("limit 1: calls ran in the order %v", calls.order)
		}
	}
}

// recorder notes the order calls ran in and the most that ran at once.
type recorder struct {
	mu             sync.Mutex
	order          []int
	inFlight, most atomic.Int32
}

func (r *recorder) call(i int) {
	now := r.inFlight.Add(1)
	for m := r.most.Load(); now > m && !r.most.CompareAndSwap(m, now); m = r.most.Load() {
	}
	r.mu.Lock()
	r.order = append(r.order, i)
	r.mu.Unlock()
	r.inFlight.Add(-1)
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

// TestNamesKeys checks the keys the writer orders files by: a file's
// folder and name family; one key for every message kept aside, and for
// a file in the quarantine folder; and, with dedupe, one key for all.
func TestNamesKeys(t *testing.T) {
	quarantine := QuarantineFolder("t")
	planned := func(rel string, names ...string) *job {
		p := &plan{rel: rel}
		for _, n := range names {
			p.outs = append(p.outs, &planned{name: n})
		}
		return &job{prepared: prepared{plan: p}}
	}
	jobs := []*job{
		planned("acme", "invoice.pdf", "invoice (1).pdf"),
		planned("acme", "report.pdf"),
		{prepared: prepared{err: extract.ErrUnparseable}},
		planned(quarantine, "x.eml"),
		{prepared: prepared{known: true}},
	}
	r := &run{opts: Options{Task: &config.Task{Name: "t"}}, out: &outputs{}}
	want := [][]string{{"acme/invoice.pdf", "acme/invoice.pdf"}, {"acme/report.pdf"}, {quarantine + "/"}, {quarantine + "/x.eml", quarantine + "/"}, nil}
	if got := r.names(jobs, (*plan).fileNames); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("keys %q, want %q", got, want)
	}
	r.out.policy.Dedupe = true
	for i, keys := range r.names(jobs, (*plan).fileNames) {
		if !slices.Contains(keys, "") {
			t.Errorf("with dedupe, job %d's keys %q leave out the one all share", i, keys)
		}
	}
}
