//go:build unix

package seaweedfs

import (
	"testing"

	"mailtask/internal/testmail/child"
)

var shared = child.Shared[*Server]{Name: "seaweedfs", Start: func() (*Server, error) { return start("") }}

// Shared returns the server of the test binary, starting it on first use;
// tests keep apart by bucket (NewBucket). The package's TestMain must
// be Main (or call StopShared), which stops it after the last test.
// Without weed it skips t, or fails it under CI=true.
func Shared(t testing.TB) *Server {
	t.Helper()
	return shared.Get(t)
}

// Main runs a package's tests and then stops the shared server, if
// started, and removes its directory:
//
//	func TestMain(m *testing.M) { seaweedfs.Main(m) }
func Main(m *testing.M) { shared.Main(m) }

// StopShared stops the shared server, if started, and removes its
// directory: for a package that shares several harnesses' servers.
func StopShared() { shared.Stop() }
