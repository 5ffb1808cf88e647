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

// probe finds the binary once per test binary: in PATH or where .ci/run
// puts it, and only if its build information says it is mox at Version.
var probe = sync.OnceValues(func() (string, error) {
	return child.GoBinary(child.Installed("mox"), modulePath, Version, missingMessage)
})
