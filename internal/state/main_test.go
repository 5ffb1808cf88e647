package state

import (
	"fmt"
	"os"
	"testing"
)

// Some tests re-execute the test binary as a second process. The child's
// role and working directory come from these variables.
const (
	childEnv    = "MAILTASK_STATE_TEST_CHILD"
	childDirEnv = "MAILTASK_STATE_TEST_DIR"
)

// children maps a role to the code a child process runs instead of the
// tests; it returns the exit code.
var children = map[string]func(dir string) int{
	"lock": childHoldLock,
}

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		child, ok := children[role]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
			os.Exit(2)
		}
		os.Exit(child(os.Getenv(childDirEnv)))
	}
	os.Exit(m.Run())
}
