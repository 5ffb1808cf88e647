package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Reset forgets everything about task: its state file, UIDL log and ledger. The
// next run treats every message on the server as new (the sink still
// recognises files that are already in place). It refuses, with a
// *LockedError, while the task is running.
func Reset(dir, task string) error {
	lock, err := Lock(dir, task)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	for _, path := range []string{Path(dir, task), ledgerPath(dir, task), uidlPath(dir, task, 0), uidlPath(dir, task, 1)} {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reset: %w", err)
		}
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	return nil
}
