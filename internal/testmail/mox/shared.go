//go:build unix

package mox

import (
	"testing"

	"mailtask/internal/testmail/child"
)

var shared = child.Shared[*Server]{Name: "mox", Start: start}

// Shared returns the server of the test binary, starting it on first use:
// one for all, as one of a test's own would cost it half a CPU second.
// Tests keep apart by folder of one account (SharedAccount). The
// package's TestMain must call StopShared after its tests. Without mox
// it skips t, or fails it under CI=true.
func Shared(t testing.TB) *Server {
	t.Helper()
	return shared.Get(t)
}

// StopShared stops the shared server, if started, and removes its
// directory.
func StopShared() { shared.Stop() }

// ReportShared writes the shared server's log tail to stderr, if it was
// started: for a package whose tests failed, as mox logs the commands it
// refused and why.
func ReportShared() { shared.Report() }
