package popimap

import (
	"context"
	"sync"

	"golang.org/x/sync/semaphore"
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

// memory hands out the buffers that hold messages in memory, within a
// budget of bytes, and keeps those given back for the next messages:
// allocating them afresh for each message cost more CPU (zeroing, page
// faults, garbage collection) than parsing them did.
type memory struct {
	budget int64
	sem    *semaphore.Weighted // the bytes of the buffers in use
	mu     sync.Mutex
	free   map[int64][][]byte // buffers given back, by size class
	held   int64              // the bytes of every buffer, in use or free
	inUse  int64              // the bytes of the buffers in use
}

func newMemory(budget int64) *memory {
	return &memory{budget: budget, sem: semaphore.NewWeighted(budget), free: map[int64][][]byte{}}
}

// largest is the size of the largest message held in memory.
func (m *memory) largest() int64 { return m.budget / 2 }

// sizeClass is the capacity of the buffer that holds n bytes: a power of
// two up to 1 MiB, a multiple of 1 MiB above, so that buffers are reused
// across messages of about the same size and waste at most half of a small
// one and 1 MiB of a large one.
func sizeClass(n int64) int64 {
	if n > 1<<20 {
		return (n + 1<<20 - 1) &^ (1<<20 - 1)
	}
	c := int64(64 << 10)
	for c < n {
		c *= 2
	}
	return c
}

// take waits until a buffer of at least n bytes (at most the budget) fits
// in the budget and returns it, empty.
func (m *memory) take(ctx context.Context, n int64) ([]byte, error) {
	c := min(sizeClass(n), m.budget)
	if err := m.sem.Acquire(ctx, c); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inUse += c
	if b := m.pop(c); b != nil {
		return b, nil
	}
	// Buffers of other sizes make room: what is in use fits, since the
	// semaphore says so.
	for class := range m.free {
		for m.held+c > m.budget && m.pop(class) != nil {
			m.held -= class
		}
	}
	m.held += c
	return make([]byte, 0, c), nil
}

// available is how many bytes of the budget no buffer in use holds.
func (m *memory) available() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.budget - m.inUse
}

// pop takes a free buffer of size class c off the list, if there is one;
// the list keeps no reference to it.
func (m *memory) pop(c int64) []byte {
	bufs := m.free[c]
	if len(bufs) == 0 {
		return nil
	}
	b := bufs[len(bufs)-1]
	bufs[len(bufs)-1] = nil
	m.free[c] = bufs[:len(bufs)-1]
	return b
}

// give returns a buffer take returned.
func (m *memory) give(b []byte) {
	c := int64(cap(b))
	m.mu.Lock()
	m.free[c] = append(m.free[c], b[:0])
	m.inUse -= c
	m.mu.Unlock()
	m.sem.Release(c)
}
