package state

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// WriteFile replaces path with data atomically and durably, 0600: written
// to a temporary file in the same directory, fsynced, renamed over the old
// file, directory fsynced. A crash leaves the old content or the new, never
// a mix. The directory is created (0700) if needed. State files and the
// OAuth2 token store are written this way.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// The temp file goes in the target's directory: renameio would
	// otherwise probe os.TempDir on every call, and a crash would leave
	// debris there rather than where the lock-time cleanup looks.
	pf, err := renameio.NewPendingFile(path, renameio.WithTempDir(dir), renameio.WithStaticPermissions(0o600))
	if err != nil {
		return err
	}
	defer pf.Cleanup()
	if _, err := pf.Write(data); err != nil {
		return err
	}
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return err
	}
	return syncDir(dir)
}

// RemoveFile removes path durably: once it returns, the file does not
// come back after a crash. A missing file is fs.ErrNotExist.
func RemoveFile(path string) error {
	if err := os.Remove(path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// RemoveFiles removes the files names in dir durably, with one sync of
// dir for them all rather than one each: a thousand mails sent are a
// thousand unlinks and one fsync. Files already gone are skipped.
func RemoveFiles(dir string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	for _, name := range names {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			// Those removed before it stay removed.
			return errors.Join(err, syncDir(dir))
		}
	}
	return syncDir(dir)
}
