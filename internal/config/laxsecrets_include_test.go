//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An inline password is warned of in the file that holds it: an included
// file others can read is named, and the main file, 0600 and without one,
// is not.
func TestLaxSecretsInIncludedFiles(t *testing.T) {
	dir := t.TempDir()
	main := writeTree(t, dir, map[string]string{
		"main.toml":     mainWithInclude,
		"conf.d/a.toml": strings.Replace(customer("a"), `password_file = "a.pw"`, `password = "inline"`, 1),
		"conf.d/b.toml": customer("b"),
		"conf.d/b.pw":   "secret\n",
	})
	for name, mode := range map[string]os.FileMode{"conf.d/a.toml": 0o644, "conf.d/b.toml": 0o644, "conf.d/b.pw": 0o600} {
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(cfg.LaxSecrets(), "\n")
	if want := filepath.Join(dir, "conf.d/a.toml") + " holds a password"; !strings.Contains(got, want) {
		t.Errorf("warnings lack %q:\n%s", want, got)
	}
	for _, quiet := range []string{main, "b.toml"} {
		if strings.Contains(got, quiet) {
			t.Errorf("%s, without an inline secret, was warned of:\n%s", quiet, got)
		}
	}
}
