package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailtask/internal/testmail/dovecot"
)

// taskDir is one task's config, state and destination in a directory of
// its own, against a Dovecot account.
type taskDir struct {
	dir, config, state, dest string
	// watch are the folders whose file-system events are the kill points
	// of attemptCommand: dest and state when empty (onS3 sets them).
	watch []string
}

// newTaskDir writes a config for task "t" fetching user's INBOX over
// protocol ("imap" or "pop3", implicit TLS) into dir/dest.
func newTaskDir(t *testing.T, d *dovecot.Server, protocol, user, password string, taskTOML ...string) taskDir {
	t.Helper()
	dir := t.TempDir()
	text := `state_dir = "state"
` + d.AccountTOML("dovecot", protocol, user, password) + `[[task]]
name = "t"
account = "dovecot"
destination = "dest"
` + strings.Join(taskTOML, "\n") + "\n"
	td := taskDir{dir: dir, config: filepath.Join(dir, "mailtask.toml"), state: filepath.Join(dir, "state"), dest: filepath.Join(dir, "dest")}
	if err := os.WriteFile(td.config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return td
}

// files returns the destination's files as name -> sha256 hex and fails t
// on anything a reader of the folder should never see: temporary files,
// subfolders.
func (td taskDir) files(t *testing.T) map[string]string {
	t.Helper()
	return treeFiles(t, td.dest, false)
}

// treeFiles returns the files below root as path (relative, with '/') ->
// sha256 hex, and fails t on temporary files, and on subfolders unless
// nested is set. A root that does not exist holds nothing.
func treeFiles(t *testing.T, root string, nested bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == root {
				return fs.SkipDir
			}
			return err
		}
		if path == root {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if nested && e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			return nil
		}
		if !e.Type().IsRegular() {
			t.Errorf("destination holds %s, which is not a regular file", rel)
			return nil
		}
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left visible in the destination: %s", rel)
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameFiles reports every difference between got and want.
func sameFiles(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for name, sum := range got {
		if w, ok := want[name]; !ok {
			t.Errorf("%s: extra file %s", what, name)
		} else if w != sum {
			t.Errorf("%s: %s has other content than in a clean run", what, name)
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("%s: file %s missing", what, name)
		}
	}
}
