package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// WritableByOthers lists, for `mailtask validate` and the daemon's start,
// the configuration files, and the folders include reads, that accounts
// other than this user (and a group of its own) may write: whoever can
// write them can add a task whose hook mailtask runs, as this user. A
// warning, not a refusal: some mounts (a container's bind mount from
// another system) show every file writable, and the operator decides.
func (c *Config) WritableByOthers() []string {
	var warnings []string
	files := append([]string{c.File}, c.Included...)
	for _, f := range files {
		if perm, lax := writableByOthers(f); lax {
			warnings = append(warnings, fmt.Sprintf("%s is writable by other accounts (mode %04o), who could add a task with a hook that mailtask runs: run \"chmod go-w %s\"", f, perm, f))
		}
	}
	var dirs []string
	for _, f := range c.Included {
		if d := filepath.Dir(f); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		if perm, lax := writableByOthers(d); lax {
			warnings = append(warnings, fmt.Sprintf("%s, a folder include reads, is writable by other accounts (mode %04o), who could add a file with a task whose hook mailtask runs: run \"chmod go-w %s\"", d, perm, d))
		}
	}
	return warnings
}

// writableByOthers reports whether accounts other than this user and its
// own group may write path; one that cannot be looked at is reported
// where it is read.
func writableByOthers(path string) (os.FileMode, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	perm := fi.Mode().Perm()
	return perm, perm&0o002 != 0 || (perm&0o020 != 0 && !ownGroup(fi))
}
