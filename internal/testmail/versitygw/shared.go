//go:build unix

package versitygw

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

var (
	sharedOnce   sync.Once
	sharedServer *Server
	sharedErr    error
	sharedUsed   atomic.Bool
)

// Shared returns the server of the test binary, starting it on first use;
// tests keep apart by bucket (NewBucket). The package's TestMain must be
// Main, which stops it after the last test. Without versitygw it skips t,
// or fails it under CI=true.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() {
		sharedUsed.Store(true)
		sharedServer, sharedErr = start()
	})
	if sharedErr != nil {
		skipOrFatal(t, sharedErr)
	}
	return sharedServer
}

// Main runs a package's tests and then stops the shared server, if one
// was started, and removes its directory:
//
//	func TestMain(m *testing.M) { versitygw.Main(m) }
//
// A package that shares several harnesses' servers calls StopShared of
// each after m.Run instead.
func Main(m *testing.M) {
	code := m.Run()
	if code != 0 && sharedServer != nil {
		fmt.Fprintf(os.Stderr, "versitygw log tail (%s):\n%s\n", sharedServer.Dir, sharedServer.LogTail())
	}
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared server, if one was started, and removes its
// directory.
func StopShared() {
	if sharedUsed.Load() && sharedServer != nil {
		sharedServer.Stop()
		os.RemoveAll(sharedServer.Dir)
	}
}
