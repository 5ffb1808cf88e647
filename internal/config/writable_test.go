package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A configuration file or include folder others may write is a way to run
// a program as mailtask's user: validate names each.
func TestWritableByOthersNamesFilesAndFolders(t *testing.T) {
	dir := t.TempDir()
	main := writeTree(t, dir, map[string]string{
		"main.toml":     mainWithInclude,
		"conf.d/a.toml": customer("a"),
		"conf.d/b.toml": customer("b"),
	})
	cfg, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.WritableByOthers(); len(w) != 0 {
		t.Fatalf("warnings for a tree no one else may write: %q", w)
	}
	confd, b := filepath.Join(dir, "conf.d"), filepath.Join(dir, "conf.d", "b.toml")
	for path, mode := range map[string]os.FileMode{confd: 0o777, b: 0o666, main: 0o620} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	got := strings.Join(cfg.WritableByOthers(), "\n")
	for _, want := range []string{b + " is writable by other accounts (mode 0666)", confd + ", a folder include reads, is writable by other accounts (mode 0777)", `"chmod go-w ` + confd + `"`} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	// Group-writable by a group of this user's own is how a team shares
	// the files.
	if strings.Contains(got, main) {
		t.Errorf("the main file, writable by this user's own group, is named:\n%s", got)
	}
}
