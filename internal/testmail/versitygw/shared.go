//go:build unix

package versitygw

import (
	"os"
	"testing"

	"mailtask/internal/testmail/child"
)

var (
	shared = child.Shared[*Server]{Name: "versitygw", Start: func() (*Server, error) { return start("", Version) }}
	legacy = child.Shared[*Server]{Name: "versitygw " + LegacyVersion, Start: func() (*Server, error) { return start("", LegacyVersion) }}
)

// Shared returns the server of the test binary, starting it on first use;
// tests keep apart by bucket (NewBucket). The package's TestMain must
// be Main (or call StopShared), which stops it after the last test.
// Without versitygw it skips t, or fails it under CI=true.
func Shared(t testing.TB) *Server {
	t.Helper()
	return shared.Get(t)
}

// SharedLegacy is Shared for the server of LegacyVersion, which ignores
// the create-only condition of a put.
func SharedLegacy(t testing.TB) *Server {
	t.Helper()
	return legacy.Get(t)
}

// Main runs a package's tests and then stops the shared servers, if
// started, and removes their directories:
//
//	func TestMain(m *testing.M) { versitygw.Main(m) }
//
// A package that shares several harnesses' servers calls StopShared of
// each after m.Run instead.
func Main(m *testing.M) {
	code := m.Run()
	if code != 0 {
		shared.Report()
		legacy.Report()
	}
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared servers, if started, and removes their
// directories.
func StopShared() {
	shared.Stop()
	legacy.Stop()
}
