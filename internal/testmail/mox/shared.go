//go:build unix

package mox

import (
	"testing"

	"mailtask/internal/testmail/child"
)

var shared = child.Shared[*Server]{Name: "mox", Start: start}

// Shared returns the server of the test binary, starting it on first
// use; tests keep apart by account (AddAccount). The package's TestMain
// must call StopShared after its tests. Without mox it skips t, or fails
// it under CI=true.
func Shared(t testing.TB) *Server {
	t.Helper()
	return shared.Get(t)
}

// Main runs a package's tests and then stops the shared server, if
// started, and removes its directory:
//
//	func TestMain(m *testing.M) { mox.Main(m) }
func Main(m *testing.M) { shared.Main(m) }

// StopShared stops the shared server, if started, and removes its
// directory: for a package that shares several harnesses' servers.
func StopShared() { shared.Stop() }
