package bench

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestPercentileIsAMeasuredDelay(t *testing.T) {
	var d Delays
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond, 0.001: time.Millisecond} {
		if got := d.Percentile(p); got != want {
			t.Errorf("p%v = %s, want %s", p*100, got, want)
		}
	}
	if got := (Delays{}).Percentile(0.5); got != 0 {
		t.Errorf("no delays: %s", got)
	}
}

func TestScheduleDelaysWaitForTheNextTick(t *testing.T) {
	run := 300 * time.Millisecond
	d := ScheduleDelays(10000, time.Minute, run, rand.New(rand.NewPCG(1, 2)))
	for _, x := range d {
		if x < run || x >= time.Minute+run {
			t.Fatalf("delay %s outside [run, period + run)", x)
		}
	}
	// Uniform waits: the median about half the period, p99 most of it.
	if p50 := d.Percentile(0.5); p50 < 29*time.Second || p50 > 31*time.Second {
		t.Errorf("p50 = %s", p50)
	}
	if p99 := d.Percentile(0.99); p99 < 59*time.Second {
		t.Errorf("p99 = %s", p99)
	}
}

func TestWriteDelayTable(t *testing.T) {
	var out bytes.Buffer
	WriteDelayTable(&out, "delay", []DelayRow{{How: "IMAP IDLE (measured)", Delays: Delays{time.Second, 2 * time.Second}}})
	for _, want := range []string{"## make bench: delay", "| IMAP IDLE (measured) | 2 | 1.000 | 2.000 | 2.000 |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
}
