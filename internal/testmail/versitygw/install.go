//go:build unix

package versitygw

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"mailtask/internal/testmail/child"
)

// Version is the only versitygw release the harness runs.
const Version = "v1.8.0"

const modulePath = "github.com/versity/versitygw"

// missingMessage is the skip (or, under CI, failure) message when the
// binary is absent.
const missingMessage = "versitygw " + Version + " not found in PATH, $GOBIN or $(go env GOPATH)/bin: go install " + modulePath + "/cmd/versitygw@" + Version

var (
	probeOnce sync.Once
	probed    string
	probeErr  error
)

// probe finds the binary once per test binary.
func probe() (string, error) {
	probeOnce.Do(func() { probed, probeErr = findBinary() })
	return probed, probeErr
}

// findBinary looks where `go install` puts binaries, and checks by its
// build information that it is versitygw at Version.
func findBinary() (string, error) {
	var candidates []string
	if p, err := exec.LookPath("versitygw"); err == nil {
		candidates = append(candidates, p)
	}
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		candidates = append(candidates, filepath.Join(gobin, "versitygw"))
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		candidates = append(candidates, filepath.Join(dir, "bin", "versitygw"))
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
