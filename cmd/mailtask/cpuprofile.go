//go:build cpuprofile

package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

// Built with -tags cpuprofile (benchmarks only; never the shipped
// binary), mailtask writes a CPU profile of its first
// MAILTASK_CPUPROFILE_SECONDS (60) to the file MAILTASK_CPUPROFILE names.
// The profile ends after that time, so that a daemon stopped by a signal
// still leaves a whole one, or when main returns, whichever comes first:
// a run-task of a few seconds that exits without having ended it left an
// empty file.
func init() {
	path := os.Getenv("MAILTASK_CPUPROFILE")
	if path == "" {
		return
	}
	seconds := 60
	if v := os.Getenv("MAILTASK_CPUPROFILE_SECONDS"); v != "" {
		if _, err := fmt.Sscan(v, &seconds); err != nil {
			fmt.Fprintf(os.Stderr, "mailtask: MAILTASK_CPUPROFILE_SECONDS=%q: %v\n", v, err)
			os.Exit(exitUsage)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailtask: %v\n", err)
		os.Exit(exitUsage)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "mailtask: %v\n", err)
		os.Exit(exitUsage)
	}
	end := sync.OnceFunc(func() {
		pprof.StopCPUProfile()
		f.Close()
	})
	time.AfterFunc(time.Duration(seconds)*time.Second, end)
	endProfile = end
}
