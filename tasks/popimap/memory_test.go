package popimap

import (
	"context"
	"testing"
	"time"
)

// The buffers in use never exceed the budget: a take that would waits for
// a give, and buffers given back are reused rather than allocated again.
func TestMemoryStaysWithinItsBudget(t *testing.T) {
	m := newMemory(4 << 20)
	ctx := context.Background()
	a, err := m.take(ctx, 1500<<10) // class 2 MiB
	if err != nil || cap(a) != 2<<20 {
		t.Fatalf("take: cap %d, %v", cap(a), err)
	}
	b, err := m.take(ctx, 2<<20)
	if err != nil || m.available() != 0 {
		t.Fatalf("take: %v, %d bytes left", err, m.available())
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := m.take(short, 1); err == nil {
		t.Fatal("a take beyond the budget did not wait")
	}
	m.give(a)
	c, err := m.take(ctx, 2<<20)
	if err != nil || &c[:1][0] != &a[:1][0] {
		t.Errorf("the buffer given back was not reused (%v)", err)
	}
	m.give(b)
	m.give(c)
	// A take of another size class drops free buffers to make room: the
	// buffers held, in use or free, stay within the budget.
	d, err := m.take(ctx, 3<<20)
	if err != nil || m.held > m.budget {
		t.Errorf("take of another class: %v; %d bytes held of %d", err, m.held, m.budget)
	}
	// What was dropped to make room is garbage: no list refers to it.
	for class, bufs := range m.free {
		for _, b := range bufs[len(bufs):cap(bufs)] {
			if b != nil {
				t.Errorf("a dropped buffer of %d bytes is still referred to", class)
			}
		}
	}
	m.give(d)
	if m.available() != m.budget {
		t.Errorf("%d bytes available, want %d", m.available(), m.budget)
	}
}
