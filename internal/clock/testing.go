package clock

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Fake is a Clock that moves only when told to. Its timers fire during
// Advance, in deadline order, each with the fake time it was due.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	changed chan struct{} // closed and replaced whenever a timer is added
}

// NewFake returns a Fake showing now.
func NewFake(now time.Time) *Fake {
	return &Fake{now: now, changed: make(chan struct{})}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer due d from the fake now; d <= 0 fires at once.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{f: f, due: f.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- f.now
		return t
	}
	f.timers = append(f.timers, t)
	close(f.changed)
	f.changed = make(chan struct{})
	return t
}

// Advance moves the fake time forward by d, firing every timer that falls
// due on the way.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	slices.SortStableFunc(f.timers, func(a, b *fakeTimer) int { return a.due.Compare(b.due) })
	for len(f.timers) > 0 && !f.timers[0].due.After(f.now) {
		t := f.timers[0]
		f.timers = f.timers[1:]
		t.c <- t.due
	}
}

// AdvanceToNext moves the fake time to the earliest pending timer and fires
// it (and any other timer due then), returning how far time moved. It
// fails when no timer is pending.
func (f *Fake) AdvanceToNext() (time.Duration, error) {
	f.mu.Lock()
	if len(f.timers) == 0 {
		f.mu.Unlock()
		return 0, fmt.Errorf("clock: no timer pending at %s", f.now.Format(time.RFC3339Nano))
	}
	next := slices.MinFunc(f.timers, func(a, b *fakeTimer) int { return a.due.Compare(b.due) }).due
	d := next.Sub(f.now)
	f.mu.Unlock()
	f.Advance(d)
	return d, nil
}

// WaitForTimers blocks until at least n timers are pending, or fails after
// within (a real duration): the way a test learns that the code under test
// has reached its wait before moving time on.
func (f *Fake) WaitForTimers(n int, within time.Duration) error {
	return f.waitFor(func() bool { return len(f.timers) >= n }, within,
		func() string { return fmt.Sprintf("%d timers pending, want %d", len(f.timers), n) })
}

// WaitForTimerAt blocks until a timer due at t is pending, or fails after
// within: the way a test learns that the code under test has armed the
// timer it should, when others come and go.
func (f *Fake) WaitForTimerAt(t time.Time, within time.Duration) error {
	return f.waitFor(func() bool { return slices.ContainsFunc(f.timers, func(ft *fakeTimer) bool { return ft.due.Equal(t) }) }, within,
		func() string { return fmt.Sprintf("no timer due at %s", t.Format(time.RFC3339)) })
}

// waitFor waits until cond, called with f.mu held, holds; it is checked
// again whenever a timer is added.
func (f *Fake) waitFor(cond func() bool, within time.Duration, describe func() string) error {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		ok, changed := cond(), f.changed
		f.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			f.mu.Lock()
			defer f.mu.Unlock()
			return fmt.Errorf("clock: after %s: %s", within, describe())
		}
	}
}

// Pending returns the due times of the pending timers, earliest first.
func (f *Fake) Pending() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	due := make([]time.Time, len(f.timers))
	for i, t := range f.timers {
		due[i] = t.due
	}
	slices.SortFunc(due, time.Time.Compare)
	return due
}

type fakeTimer struct {
	f   *Fake
	due time.Time
	c   chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	i := slices.Index(t.f.timers, t)
	if i < 0 {
		return false
	}
	t.f.timers = slices.Delete(t.f.timers, i, i+1)
	return true
}
