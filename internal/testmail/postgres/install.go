//go:build unix

package postgres

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"

	"mailtask/internal/testmail/child"
)

// missingMessage is the skip (or, under CI, failure) message when
// PostgreSQL is absent.
const missingMessage = "PostgreSQL not installed: apt-get install postgresql (the tests run its initdb and postgres from /usr/lib/postgresql/N/bin)"

// install is what starting a cluster needs to know about the machine.
type install struct {
	bin  string              // the directory holding initdb and postgres
	cred *syscall.Credential // who runs them; nil for the current user
}

var (
	probeOnce sync.Once
	probed    install
	probeErr  error
)

// probe inspects the installation once per test binary.
func probe() (install, error) {
	probeOnce.Do(func() { probed, probeErr = probeInstall() })
	return probed, probeErr
}

func probeInstall() (install, error) {
	bin, err := findBin()
	if err != nil {
		return install{}, err
	}
	inst := install{bin: bin}
	// initdb and postgres refuse to run as root.
	if inst.cred, err = child.RunAs("postgres", "PostgreSQL is installed but the tests run as root, which initdb refuses"); err != nil {
		return install{}, err
	}
	return inst, nil
}

// findBin returns the directory of initdb and postgres: the one in PATH
// if any (a source build, another distribution), else the newest of
// Debian's /usr/lib/postgresql/N/bin, which Debian keeps off PATH.
func findBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(b) - majorOf(a) })
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", child.Unavailable(missingMessage)
}

// majorOf is N of /usr/lib/postgresql/N/bin, 0 if it is not a number.
func majorOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
