//go:build unix

package mox

import (
	"sync"

	"mailtask/internal/testmail/child"
)

// Version is the mox release the harness runs.
const Version = "v0.0.15"

const modulePath = "github.com/mjl-/mox"

const missingMessage = "mox " + Version + " not found in PATH, $GOBIN or $(go env GOPATH)/bin: go build -C .ci/mox -o $(go env GOPATH)/bin/mox " + modulePath + " (as .ci/run does)"

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
// by its build information that it is mox at Version.
func findBinary() (string, error) {
	return child.GoBinary(child.Installed("mox"), modulePath, Version, missingMessage)
}
