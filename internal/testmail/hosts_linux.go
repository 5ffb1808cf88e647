package testmail

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
)

// EnterHostsNamespace is for TestMain, before the tests run: in a child
// started by WithMicrosoftHosts it puts the child's hosts file over
// /etc/hosts, in the mount namespace the child alone has; elsewhere it does
// nothing.
func EnterHostsNamespace() error {
	path := os.Getenv(envHosts)
	if path == "" {
		return nil
	}
	// The namespace belongs to a user namespace of its own, so nothing
	// mounted here reaches the rest of the machine; private makes sure.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("testmail: make mounts private: %w", err)
	}
	if err := syscall.Mount(path, "/etc/hosts", "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("testmail: bind %s over /etc/hosts: %w", path, err)
	}
	return nil
}

// WithMicrosoftHosts runs t's test function again in a child process (the
// test binary) with a user and mount namespace of its own, where
// /etc/hosts sends MicrosoftHosts to 127.0.0.1; t fails when the child's
// test fails, and shows its output. The test calls it when
// !MicrosoftHostsHere(), and returns. Where namespaces cannot be made, t is
// skipped, or failed under CI=true. Only for top-level tests; servers that
// change user (Dovecot) cannot run in the child.
func WithMicrosoftHosts(t *testing.T) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(path, []byte(hostsFile()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), envHosts+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		t.Logf("in a namespace where %v are on 127.0.0.1:\n%s", MicrosoftHosts, out)
	case errors.As(err, &exitErr):
		t.Fatalf("in a namespace where %v are on 127.0.0.1, the test failed:\n%s", MicrosoftHosts, out)
	default:
		msg := fmt.Sprintf("cannot start a child in a user and mount namespace of its own (%v): this test needs them", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}
