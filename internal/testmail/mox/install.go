//go:build unix

package mox

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	var candidates []string
	if p, err := exec.LookPath("mox"); err == nil {
		candidates = append(candidates, p)
	}
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		candidates = append(candidates, filepath.Join(gobin, "mox"))
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		candidates = append(candidates, filepath.Join(dir, "bin", "mox"))
	}
	var wrong []string
	for _, p := range candidates {
		info, err := buildinfo.ReadFile(p)
		if err != nil {
			continue
		}
		if info.Main.Path == modulePath && info.Main.Version == Version {
			return p, nil
		}
		wrong = append(wrong, fmt.Sprintf("%s is %s %s", p, info.Main.Path, info.Main.Version))
	}
	if len(wrong) > 0 {
		return "", child.Unavailable(fmt.Sprintf("%s (found: %v)", missingMessage, wrong))
	}
	return "", child.Unavailable(missingMessage)
}
