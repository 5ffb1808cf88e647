package main

import (
	"os"
	"runtime/debug"
	"slices"

	"mailtask/internal/config"
	"mailtask/internal/objsink"
	"mailtask/internal/s3url"
	"mailtask/tasks/popimap"
)

// baseMemory is what mailtask holds besides the messages of its runs: the
// Go runtime, connections, the parser's and the writer's working sets.
// Measured at about 20 MiB with one run on the corpora of make bench.
const baseMemory = 24 << 20

// limitMemory sets the memory limit of Go's collector to what runs runs of
// tasks at once hold, and baseMemory, unless GOMEMLIMIT sets one: each
// run its messages (popimap.MemoryBudget) and, when one of tasks writes
// to an object store, the content it stages in memory there
// (objsink.MemoryBudget). Left to itself, the collector lets the heap
// grow to twice what is live, and a run's message buffers are most of
// what is live: the limit makes it collect sooner instead, which costs
// little CPU, since those buffers hold no pointers to scan. A limit that
// left out the staged content kept the heap of cluster mode so close to
// it that the collector ran three times as often (70 cycles a run of the
// corpus of make bench instead of 23), and handed pages back to the
// system only to fault them in again.
func limitMemory(runs int, tasks []*config.Task) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	perRun := int64(popimap.MemoryBudget)
	if slices.ContainsFunc(tasks, func(t *config.Task) bool { return s3url.Is(t.Destination) }) {
		perRun += objsink.MemoryBudget
	}
	debug.SetMemoryLimit(baseMemory + int64(max(runs, 1))*perRun)
}
