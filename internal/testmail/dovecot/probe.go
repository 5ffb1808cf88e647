package dovecot

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// missingMessage is the skip (or, under CI, failure) message when Dovecot or
// one of the two protocol packages is absent.
const missingMessage = "dovecot not installed: apt-get install dovecot-imapd dovecot-pop3d"

// unavailableError means this machine cannot run the harness as it is; tests
// skip on it locally and fail on it in CI, where it must not go unnoticed.
type unavailableError string

func (e unavailableError) Error() string { return string(e) }

// skipOrFail reports an unavailable Dovecot: a skip for a developer without
// it, a failure in CI so that a broken image cannot pass by skipping.
func skipOrFail(t testing.TB, ci bool, reason string) {
	t.Helper()
	if ci {
		t.Fatal(reason)
	} else {
		t.Skip(reason)
	}
}

// install is what Start needs to know about the installed Dovecot.
type install struct {
	binary  string // the dovecot master
	version string // as `dovecot --version` prints it, e.g. 2.3.19.1
	id      identity
}

var (
	probeOnce sync.Once
	probed    install
	probeErr  error
)

// probe inspects the installation and the users to run as, once per test
// binary: every test starts its own instance and the answers cannot change.
func probe() (install, error) {
	probeOnce.Do(func() { probed, probeErr = probeInstall() })
	return probed, probeErr
}

func probeInstall() (install, error) {
	bin, err := findBinary("dovecot")
	if err != nil {
		return install{}, unavailableError(missingMessage)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return install{}, fmt.Errorf("%s --version: %w", bin, err)
	}
	fields := strings.Fields(string(out))
	if len(fields) == 0 {
		return install{}, fmt.Errorf("%s --version printed nothing", bin)
	}
	version := fields[0]
	// 2.4 renamed and restructured most settings this harness writes.
	if !strings.HasPrefix(version, "2.3.") {
		return install{}, unavailableError(fmt.Sprintf(
			"dovecot %s is installed but the test harness writes Dovecot 2.3 configuration only; "+
				"extend internal/testmail/dovecot/config.go or install Dovecot 2.3 (Debian bookworm)", version))
	}
	doveconf, err := findBinary("doveconf")
	if err != nil {
		return install{}, unavailableError(missingMessage)
	}
	// An empty configuration still yields the compiled-in libexec_dir, where
	// the protocol packages drop their binaries.
	out, err = exec.Command(doveconf, "-c", os.DevNull, "-h", "libexec_dir").Output()
	if err != nil {
		return install{}, fmt.Errorf("%s -h libexec_dir: %w", doveconf, err)
	}
	libexec := strings.TrimSpace(string(out))
	for _, name := range []string{"imap", "imap-login", "pop3", "pop3-login"} {
		if _, err := os.Stat(filepath.Join(libexec, name)); err != nil {
			return install{}, unavailableError(missingMessage)
		}
	}
	id, err := currentIdentity()
	if err != nil {
		return install{}, err
	}
	return install{binary: bin, version: version, id: id}, nil
}

// findBinary looks in PATH, then in the sbin directories that an ordinary
// user's PATH often lacks.
func findBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or sbin", name)
}
