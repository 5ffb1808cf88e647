package popimap

import (
	"context"
	"slices"
	"sync"
)

// MemoryBudget is how many bytes of the messages it has received and not
// yet staged a run holds in memory at once, over all its connections. A
// message up to half of it (8 MiB) is held in memory, and waits for room
// there while the messages before it are staged; a larger one goes to the
// spool directory (spool.go), so that a huge message costs disk, not
// memory. Go's collector lets the heap grow to about twice what is live,
// so a program running tasks should set its memory limit from this
// budget (cmd/mailtask does).
const MemoryBudget = 16 << 20

// memory hands out the buffers that hold messages in memory, each cut
// from one arena the size of the budget, allocated on the run's first
// message and kept to its end. Allocating a buffer for each message cost
// more CPU than parsing it: zeroing it, and faulting its pages in, which
// a virtual machine that hands freed pages back to its host makes dear;
// and buffers kept by size for the next messages seldom fitted them, so
// they were dropped and allocated again. Cut from the arena, a buffer
// reuses pages the run has touched before.
//
// A buffer goes at the lowest place it fits (so a run of small messages
// touches only the start of the arena), and buffers are handed out in the
// order they were asked for: a large message waits until the messages
// before it are staged and there is room for it, and no later message
// overtakes it meanwhile.
type memory struct {
	budget int64
	mu     sync.Mutex
	arena  []byte
	inUse  []extent  // the buffers handed out, by where they start
	queue  []*waiter // takes waiting for room, in order
}

// extent is where a buffer lies in the arena: [start, end).
type extent struct{ start, end int64 }

// waiter is a take waiting for room: n bytes, sent on ready once given.
type waiter struct {
	n     int64
	ready chan []byte
}

func newMemory(budget int64) *memory {
	return &memory{budget: budget}
}

// largest is the size of the largest message held in memory.
func (m *memory) largest() int64 { return m.budget / 2 }

// Buffers are at least smallest bytes, so that a message whose size the
// server did not announce, or announced short, stays in memory all the
// same when it is small; and a whole number of pages, so that each starts
// on a page of its own.
const (
	smallest = 64 << 10
	pageSize = 4 << 10
)

// take waits until a buffer of at least n bytes (at most the budget) fits
// in the arena and returns it, empty.
func (m *memory) take(ctx context.Context, n int64) ([]byte, error) {
	n = min((max(n, smallest)+pageSize-1)&^(pageSize-1), m.budget)
	m.mu.Lock()
	if len(m.queue) == 0 {
		if b, ok := m.cut(n); ok {
			m.mu.Unlock()
			return b, nil
		}
	}
	w := &waiter{n: n, ready: make(chan []byte, 1)}
	m.queue = append(m.queue, w)
	m.mu.Unlock()
	select {
	case b := <-w.ready:
		return b, nil
	case <-ctx.Done():
		m.mu.Lock()
		if i := slices.Index(m.queue, w); i >= 0 {
			m.queue = slices.Delete(m.queue, i, i+1)
			m.serve() // those behind it may fit
			m.mu.Unlock()
		} else {
			m.mu.Unlock()
			m.give(<-w.ready) // served meanwhile
		}
		return nil, ctx.Err()
	}
}

// cut places a buffer of n bytes at the lowest gap it fits in, if there is
// one. m.mu is held.
func (m *memory) cut(n int64) ([]byte, bool) {
	if m.arena == nil {
		m.arena = make([]byte, m.budget)
	}
	start := int64(0)
	for i, e := range m.inUse {
		if e.start-start >= n {
			m.inUse = slices.Insert(m.inUse, i, extent{start, start + n})
			return m.arena[start : start : start+n], true
		}
		start = e.end
	}
	if m.budget-start < n {
		return nil, false
	}
	m.inUse = append(m.inUse, extent{start, start + n})
	return m.arena[start : start : start+n], true
}

// serve hands buffers to the waiting takes, in order, while the first
// fits. m.mu is held.
func (m *memory) serve() {
	for len(m.queue) > 0 {
		b, ok := m.cut(m.queue[0].n)
		if !ok {
			return
		}
		m.queue[0].ready <- b
		m.queue = slices.Delete(m.queue, 0, 1)
	}
}

// give returns a buffer take returned.
func (m *memory) give(b []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := slices.IndexFunc(m.inUse, func(e extent) bool { return &m.arena[e.start] == &b[:1][0] })
	m.inUse = slices.Delete(m.inUse, i, i+1)
	m.serve()
}

// available is how many bytes of the budget no buffer in use holds.
func (m *memory) available() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	free := m.budget
	for _, e := range m.inUse {
		free -= e.end - e.start
	}
	return free
}
