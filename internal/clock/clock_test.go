package clock

import (
	"testing"
	"time"
)

func TestFakeFiresTimersInOrderAsTimeMoves(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	f := NewFake(t0)
	late := f.NewTimer(3 * time.Second)
	early := f.NewTimer(time.Second)
	stopped := f.NewTimer(2 * time.Second)
	if !stopped.Stop() || stopped.Stop() {
		t.Error("Stop should report true once")
	}
	if err := f.WaitForTimers(2, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitForTimers(3, 10*time.Millisecond); err == nil {
		t.Error("WaitForTimers(3) succeeded with 2 pending")
	}
	d, err := f.AdvanceToNext()
	if err != nil || d != time.Second {
		t.Fatalf("AdvanceToNext = %s, %v", d, err)
	}
	select {
	case at := <-early.C():
		if !at.Equal(t0.Add(time.Second)) {
			t.Errorf("fired with %s", at)
		}
	default:
		t.Fatal("the due timer did not fire")
	}
	select {
	case <-late.C():
		t.Fatal("a timer fired early")
	default:
	}
	f.Advance(5 * time.Second)
	if at := <-late.C(); !at.Equal(t0.Add(3*time.Second)) || !f.Now().Equal(t0.Add(6*time.Second)) {
		t.Errorf("late fired with %s at %s", at, f.Now())
	}
	if _, err := f.AdvanceToNext(); err == nil {
		t.Error("AdvanceToNext with nothing pending succeeded")
	}
	if now := <-f.NewTimer(0).C(); !now.Equal(f.Now()) {
		t.Error("a zero timer does not fire at once")
	}
}

func TestRealTimerFires(t *testing.T) {
	select {
	case <-Real.NewTimer(time.Millisecond).C():
	case <-time.After(10 * time.Second):
		t.Fatal("real timer did not fire")
	}
	if Real.NewTimer(time.Hour).Stop() != true {
		t.Error("Stop of a pending real timer")
	}
}
