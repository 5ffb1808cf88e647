package servers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DefaultRoot is where .ci/servers unpacks the servers unless
// MAILTASK_SERVERS names another directory.
const DefaultRoot = "/opt/mailtask-servers"

// Root is the private root the servers were unpacked into.
type Root string

// Find returns the root holding every one of programs (paths inside it,
// e.g. "usr/sbin/imap4d"). Without them it skips t, or fails it when the
// environment says CI=true.
func Find(t testing.TB, programs ...string) Root {
	t.Helper()
	dir := os.Getenv("MAILTASK_SERVERS")
	if dir == "" {
		dir = DefaultRoot
	}
	for _, p := range programs {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			skipOrFail(t, fmt.Sprintf("%s not in %s: run .ci/servers (as root) to unpack the test servers there, or set MAILTASK_SERVERS", p, dir))
		}
	}
	return Root(dir)
}

// skipOrFail skips t for want of something a server needs, or fails it
// under CI=true: CI must not pass by skipping.
func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Path returns the path of p inside the root.
func (r Root) Path(p string) string { return filepath.Join(string(r), p) }

// Env is the environment a program of the root runs in: its shared
// libraries come from the root first, then from the machine.
func (r Root) Env() []string {
	var libs []string
	for _, d := range []string{"usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib/aarch64-linux-gnu", "lib/aarch64-linux-gnu", "usr/lib", "lib"} {
		if fi, err := os.Stat(r.Path(d)); err == nil && fi.IsDir() {
			libs = append(libs, r.Path(d))
		}
	}
	env := []string{"LD_LIBRARY_PATH=" + strings.Join(libs, ":")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LD_LIBRARY_PATH=") {
			env = append(env, kv)
		}
	}
	return env
}

// Dir makes a directory for a server until t ends, reachable by the
// unprivileged IDs servers switch to (which t.TempDir's is not).
func Dir(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mailtask-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("servers: remove %s: %v", dir, err)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
