package state

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// CheckDir refuses a state directory that another account could plant
// links or files in: one writable by group or others, or not owned by the
// user mailtask runs as. Such an account could make mailtask (often run as
// root) empty, truncate or delete whatever it likes through the state
// files. A directory that does not exist yet is fine: it is created 0700.
// Files in it are opened without following links either (openFile).
func CheckDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state_dir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state_dir %s is not a folder", dir)
	}
	return checkOwner(dir, fi)
}

// openFile opens name in the state directory as os.OpenFile does, except
// that a symbolic link in its place is an error rather than followed.
func openFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag|noFollow, perm)
}

// ReadFile is os.ReadFile, except that a symbolic link in name's place
// is an error rather than followed: for files in the state directory.
func ReadFile(name string) ([]byte, error) { return readFile(name) }

// readFile is os.ReadFile through openFile.
func readFile(name string) ([]byte, error) {
	f, err := openFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
