package state

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Path returns where the state of task lives in dir. It does not validate
// task; every function that touches the file does.
func Path(dir, task string) string {
	return filepath.Join(dir, task+".json")
}

func lockPath(dir, task string) string {
	return filepath.Join(dir, task+".lock")
}

func ledgerPath(dir, task string) string {
	return filepath.Join(dir, task+".ledger")
}

// checkTask refuses task names that would put state files anywhere but
// directly in the state directory. Config validation is stricter; this
// guards callers that bypass it, such as `mailtask state reset NAME`.
func checkTask(task string) error {
	if task == "" || task == "." || task == ".." || strings.ContainsAny(task, "/\\\x00") {
		return fmt.Errorf("invalid task name %q: it must be non-empty and contain no '/', '\\' or NUL", task)
	}
	return nil
}
