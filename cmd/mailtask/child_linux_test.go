package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"mailtask/internal/testmail"
	"mailtask/internal/testmail/postgres"
)

// Some tests run the real mailtask as a separate process, to kill it with
// SIGKILL or to limit what it may write: the test binary re-executes
// itself with these variables set, and TestMain runs main() instead of the
// tests.
const (
	envChild = "MAILTASK_TEST_MAIN"  // "1": be mailtask
	envFSize = "MAILTASK_TEST_FSIZE" // RLIMIT_FSIZE in bytes, as a full disk
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		if limit := os.Getenv(envFSize); limit != "" {
			n, err := strconv.ParseUint(limit, 10, 64)
			if err == nil {
				err = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n})
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s=%s: %v\n", envFSize, limit, err)
				os.Exit(125)
			}
			// A write past the limit then fails with EFBIG instead of
			// killing the process.
			signal.Ignore(syscall.SIGXFSZ)
		}
		main()
		return
	}
	// Tests of what is said only to Microsoft's customers run again in
	// a namespace where its host names are on loopback.
	if err := testmail.EnterHostsNamespace(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(125)
	}
	code := m.Run()
	postgres.StopShared() // if a test of cluster mode started it
	if plain.dir != "" {
		os.RemoveAll(plain.dir)
	}
	os.Exit(code)
}

// mailtaskCmd returns the real mailtask (this binary, as main) with args.
func mailtaskCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envChild+"=1")
	return cmd
}

// plain is mailtask built without the race detector, once per run of the
// package's tests, for the crash suites. Their children prove that what a
// kill -9 leaves behind is recovered: each run is one process doing its
// work in order, killed at a file-system event, so a race build of it
// proves nothing more; it made the three suites take half as much CPU
// again (47 CPU-s against 31). The children whose concurrency matters
// (the daemon's and the cluster chaos test's nodes) stay the race-built
// test binary (mailtaskCmd).
var plain struct {
	once sync.Once
	dir  string // removed by TestMain
	path string
	err  error
}

// plainMailtaskCmd returns the real mailtask, built without -race, with
// args.
func plainMailtaskCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	plain.once.Do(func() {
		if plain.dir, plain.err = os.MkdirTemp("", "mailtask-plain-"); plain.err != nil {
			return
		}
		plain.path = filepath.Join(plain.dir, "mailtask")
		// go test puts its own go first on PATH.
		out, err := exec.Command("go", "build", "-o", plain.path, "mailtask/cmd/mailtask").CombinedOutput()
		if err != nil {
			plain.err = fmt.Errorf("go build mailtask/cmd/mailtask: %v\n%s", err, out)
		}
	})
	if plain.err != nil {
		t.Fatal(plain.err)
	}
	return exec.Command(plain.path, args...)
}
