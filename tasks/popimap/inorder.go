package popimap

import (
	"context"
	"errors"
	"sync"
)

// inOrder calls do(i) for every i of keys, up to limit at once, in index
// order for every key: do(i) starts only once each earlier do(j) that
// shares a key with it has ended. Calls that share no key overlap; those
// that do run as they would one after another, so that what one decides
// from what the other left (a name taken, a " (1)" given) comes out the
// same whatever finishes first. With limit 1 the calls run one after
// another, in index order.
//
// Each call runs on a goroutine of its own: do must not panic (wrap it
// in run.guarded). The first call to fail stops the calls not yet
// started. inOrder returns which calls ran, and the error of the first by
// index that failed, not counting those that only saw the stop.
func inOrder(ctx context.Context, limit int, keys [][]string, do func(ctx context.Context, i int) error) ([]bool, error) {
	run, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg    sync.WaitGroup
		slots = make(chan struct{}, max(limit, 1))
		ended = make([]chan struct{}, len(keys))
		ran   = make([]bool, len(keys))
		errs  = make([]error, len(keys))
		last  = map[string]int{} // the latest call of each key so far
	)
	for i := range keys {
		after := make(map[int]bool)
		for _, k := range keys[i] {
			if j, ok := last[k]; ok && j != i { // a key twice in one call
				after[j] = true
			}
			last[k] = i
		}
		// Slots go in index order, and a call waits only for earlier
		// ones, so the earliest holding a slot can always go on.
		select {
		case slots <- struct{}{}:
		case <-run.Done():
		}
		if run.Err() != nil {
			break
		}
		ended[i] = make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			defer close(ended[i])
			for j := range after {
				<-ended[j]
			}
			if run.Err() != nil {
				return
			}
			ran[i] = true
			if errs[i] = do(run, i); errs[i] != nil {
				stop()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && (ctx.Err() != nil || !errors.Is(err, context.Canceled)) {
			return ran, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return ran, err
		}
	}
	for _, ok := range ran {
		if !ok {
			return ran, ctx.Err() // the run was stopped before it
		}
	}
	return ran, nil
}
