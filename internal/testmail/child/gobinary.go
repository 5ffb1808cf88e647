//go:build unix

package child

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// GoPath is the list of directories $(go env GOPATH) names, worked out
// as the go command does without asking it: $GOPATH, else ~/go.
func GoPath() []string {
	if gopath := os.Getenv("GOPATH"); gopath != "" {
		return filepath.SplitList(gopath)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	return []string{filepath.Join(home, "go")}
}

// Installed lists where `go install` puts the binary name, in the order
// a test looks: PATH, $GOBIN, then each $(go env GOPATH)/bin.
func Installed(name string) []string {
	var candidates []string
	if p, err := exec.LookPath(name); err == nil {
		candidates = append(candidates, p)
	}
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		candidates = append(candidates, filepath.Join(gobin, name))
	}
	for _, dir := range GoPath() {
		candidates = append(candidates, filepath.Join(dir, "bin", name))
	}
	return candidates
}

// GoBinary returns the first of candidates whose build information says
// it is module at version: a binary of the same name built from another
// release would answer differently from the one the tests were written
// against. Without one it returns Unavailable with missing, which says
// how to build it, and the other builds it found.
func GoBinary(candidates []string, module, version, missing string) (string, error) {
	var wrong []string
	for _, p := range candidates {
		info, err := buildinfo.ReadFile(p)
		if err != nil {
			continue
		}
		if info.Main.Path == module && info.Main.Version == version {
			return p, nil
		}
		wrong = append(wrong, fmt.Sprintf("%s is %s %s", p, info.Main.Path, info.Main.Version))
	}
	if len(wrong) > 0 {
		return "", Unavailable(fmt.Sprintf("%s (found: %v)", missing, wrong))
	}
	return "", Unavailable(missing)
}
