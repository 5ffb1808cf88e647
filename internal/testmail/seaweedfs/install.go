//go:build unix

package seaweedfs

import (
	"sync"

	"mailtask/internal/testmail/child"
)

// Version is the SeaweedFS build the harness runs: the module proxy
// serves github.com/seaweedfs/seaweedfs only as this pseudo-version.
const Version = "v0.0.0-20261109003541-7506e5f91cd6"

const modulePath = "github.com/seaweedfs/seaweedfs"

const missingMessage = "weed (SeaweedFS " + Version + ") not found in PATH, $GOBIN or $(go env GOPATH)/bin: go build -C .ci/seaweedfs -o $(go env GOPATH)/bin/weed " + modulePath + "/weed (as .ci/run does)"

var found struct {
	once sync.Once
	path string
	err  error
}

// probe finds the binary once per test binary.
func probe() (string, error) {
	found.once.Do(func() { found.path, found.err = findBinary() })
	return found.path, found.err
}

// findBinary looks in PATH and where .ci/run puts the binary, and checks
// by its build information that it is SeaweedFS at Version.
func findBinary() (string, error) {
	return child.GoBinary(child.Installed("weed"), modulePath, Version, missingMessage)
}
