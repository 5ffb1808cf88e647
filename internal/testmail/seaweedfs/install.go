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

// probe finds the binary once per test binary: in PATH or where .ci/run
// puts it, and only if its build information says it is SeaweedFS at Version.
var probe = sync.OnceValues(func() (string, error) {
	return child.GoBinary(child.Installed("weed"), modulePath, Version, missingMessage)
})
