package main

import (
	"os"
	"runtime/debug"

	"mailtask/tasks/popimap"
)

// baseMemory is what mailtask holds besides the messages of its runs: the
// Go runtime, connections, the parser's and the writer's working sets.
// Measured at about 20 MiB with one run on the corpora of make bench.
const baseMemory = 24 << 20

// limitMemory sets the memory limit of Go's collector to what runs runs at
// once hold (popimap.MemoryBudget each) and baseMemory, unless GOMEMLIMIT
// sets one. Left to itself, the collector lets the heap grow to twice
// what is live, and a run's message buffers are most of what is live: the
// limit makes it collect sooner instead, which costs little CPU, since
// those buffers hold no pointers to scan.
func limitMemory(runs int) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(baseMemory + int64(max(runs, 1))*popimap.MemoryBudget)
}
