package main

import (
	"math"
	"runtime/debug"
	"testing"

	"mailtask/tasks/popimap"
)

func TestLimitMemoryFollowsTheRunsUnlessGOMEMLIMIT(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	t.Setenv("GOMEMLIMIT", "")
	limitMemory(3)
	if got, want := debug.SetMemoryLimit(-1), int64(baseMemory+3*popimap.MemoryBudget); got != want {
		t.Errorf("limit %d, want %d", got, want)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "1GiB")
	limitMemory(3)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit %d with GOMEMLIMIT set; want it left alone", got)
	}
}
