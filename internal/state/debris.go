package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// removeSaveDebris deletes the temporary files that interrupted saves of
// task's state left in dir. Save writes the new state to a file named "."
// + the state file's name + random digits (renameio's pattern) and renames
// it into place; a crash in between leaves that file behind for good.
//
// Lock calls it once the lock is taken: anyone else could delete a
// concurrent Save's file.
func removeSaveDebris(dir, task string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list state directory: %w", err)
	}
	prefix := "." + filepath.Base(Path(dir, task))
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s left by an interrupted save: %w", e.Name(), err)
		}
	}
	return nil
}
