//go:build unix

package versitygw

import (
	"testing"

	"mailtask/internal/testmail/child"
)

var shared = child.Shared[*Server]{Name: "versitygw", Start: func() (*Server, error) { return start("") }}

// Shared returns the server of the test binary, starting it on first use;
// tests keep apart by bucket (NewBucket). The package's TestMain must
// be Main (or call StopShared), which stops it after the last test.
// Without versitygw it skips t, or fails it under CI=true.
func Shared(t testing.TB) *Server {
	t.Helper()
	return shared.Get(t)
}

// Main runs a package's tests and then stops the shared server, if one
// was started, and removes its directory:
//
//	func TestMain(m *testing.M) { versitygw.Main(m) }
//
// A package that shares several harnesses' servers calls StopShared of
// each after m.Run instead.
func Main(m *testing.M) { shared.Main(m) }

// StopShared stops the shared server, if one was started, and removes its
// directory.
func StopShared() { shared.Stop() }
