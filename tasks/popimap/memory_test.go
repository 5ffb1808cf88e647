package popimap

import (
	"context"
	"testing"
	"time"
)

// Buffers are cut from one arena within the budget: a take that does not
// fit waits for a give, and the memory given back holds the next message
// whatever its size, rather than being dropped and allocated again.
func TestMemoryStaysWithinItsBudget(t *testing.T) {
	m := newMemory(4 << 20)
	ctx := context.Background()
	a, err := m.take(ctx, 1500<<10)
	if err != nil || cap(a) < 1500<<10 || len(a) != 0 {
		t.Fatalf("take: len %d cap %d, %v", len(a), cap(a), err)
	}
	b, err := m.take(ctx, int64(4<<20-cap(a)))
	if err != nil || m.available() != 0 {
		t.Fatalf("take: %v, %d bytes left", err, m.available())
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := m.take(short, 1); err == nil {
		t.Fatal("a take beyond the budget did not wait")
	}
	m.give(a)
	// Smaller than a, then larger than a: both where a was.
	c, err := m.take(ctx, 1000)
	if err != nil || &c[:1][0] != &a[:1][0] {
		t.Errorf("a smaller buffer does not reuse the memory given back (%v)", err)
	}
	m.give(c)
	m.give(b)
	d, err := m.take(ctx, 3<<20)
	if err != nil || &d[:1][0] != &a[:1][0] {
		t.Errorf("a larger buffer does not reuse the memory given back (%v)", err)
	}
	// Buffers do not overlap: filling one leaves the other as it was.
	e, err := m.take(ctx, int64(4<<20-cap(d)))
	if err != nil {
		t.Fatal(err)
	}
	d, e = d[:cap(d)], e[:cap(e)]
	for i := range d {
		d[i] = 1
	}
	for i := range e {
		if e[i] != 0 {
			t.Fatalf("byte %d of the second buffer changed when the first was filled", i)
		}
	}
	m.give(d)
	m.give(e)
	if m.available() != m.budget {
		t.Errorf("%d bytes available, want %d", m.available(), m.budget)
	}
}

// A large take waiting for room is not overtaken by smaller ones that
// would fit, and one that gives up waiting lets those behind it through.
func TestMemoryServesTakesInOrder(t *testing.T) {
	m := newMemory(4 << 20)
	ctx := context.Background()
	a, err := m.take(ctx, 3<<20)
	if err != nil {
		t.Fatal(err)
	}
	large := make(chan []byte)
	go func() {
		b, err := m.take(ctx, 2<<20)
		if err != nil {
			t.Error(err)
		}
		large <- b
	}()
	waiting := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			m.mu.Lock()
			q := len(m.queue)
			m.mu.Unlock()
			if q == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d takes waiting, want %d", q, n)
			}
		}
	}
	waiting(1)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := m.take(short, 4<<10); err == nil {
		t.Fatal("a small take overtook a large one waiting before it")
	}
	m.give(a)
	b := <-large
	m.give(b)

	// The first waiter gives up: the second, which fits, is served.
	a, _ = m.take(ctx, 3<<20)
	giveUp, cancelFirst := context.WithCancel(ctx)
	first := make(chan error)
	go func() {
		_, err := m.take(giveUp, 2<<20)
		first <- err
	}()
	waiting(1)
	second := make(chan []byte)
	go func() {
		b, _ := m.take(ctx, 1<<20)
		second <- b
	}()
	waiting(2)
	cancelFirst()
	if err := <-first; err == nil {
		t.Error("a cancelled take returned a buffer")
	}
	b = <-second
	m.give(a)
	m.give(b)
	if m.available() != m.budget {
		t.Errorf("%d bytes available, want %d", m.available(), m.budget)
	}
}
