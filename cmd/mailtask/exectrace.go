//go:build exectrace

package main

import (
	"fmt"
	"os"
	"runtime/trace"
)

// Built with -tags exectrace (benchmarks only; never the shipped binary),
// mailtask writes an execution trace of the whole process to the file
// MAILTASK_TRACE names, for `go tool trace`: when each goroutine ran,
// and where the fetching and the writing waited (-pprof=net, sync,
// syscall). A CPU profile says where the CPU goes; this says why the
// wall is longer than the CPU.
func init() {
	path := os.Getenv("MAILTASK_TRACE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err == nil {
		err = trace.Start(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailtask: MAILTASK_TRACE: %v\n", err)
		os.Exit(exitUsage)
	}
	before := endProfile
	endProfile = func() {
		trace.Stop()
		f.Close()
		before()
	}
}
