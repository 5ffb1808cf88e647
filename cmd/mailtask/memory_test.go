package main

import (
	"math"
	"runtime/debug"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/objsink"
	"mailtask/tasks/popimap"
)

func TestLimitMemoryFollowsTheRunsUnlessGOMEMLIMIT(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	t.Setenv("GOMEMLIMIT", "")
	files := []*config.Task{{Name: "a", Destination: "/srv/in/{yyyy}"}}
	limitMemory(3, files)
	if got, want := debug.SetMemoryLimit(-1), int64(baseMemory+3*popimap.MemoryBudget); got != want {
		t.Errorf("limit %d, want %d", got, want)
	}
	// Content staged for an object store is held in memory besides.
	limitMemory(3, append(files, &config.Task{Name: "b", Destination: "s3://invoices/in/{yyyy}"}))
	if got, want := debug.SetMemoryLimit(-1), int64(baseMemory+3*(popimap.MemoryBudget+objsink.MemoryBudget)); got != want {
		t.Errorf("limit %d with a task writing to S3, want %d", got, want)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "1GiB")
	limitMemory(3, files)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit %d with GOMEMLIMIT set; want it left alone", got)
	}
}
