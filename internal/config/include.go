package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// An included file holds mailboxes, not the daemon: these are the only
// top-level keys it may set. Everything else (state_dir, the daemon's and
// cluster mode's keys, [notify], include itself) is read from the main
// file alone, so that one customer's file cannot move the state or the
// listener of every other.
var includedKeys = []string{"accounts", "task"}

// include reads the files c.Include matches and adds their accounts and
// tasks to c; c holds the main file's already. unread lists the patterns
// and files that could not be read or parsed: they stop the load, as the
// main file's would, since every task of another file using an account of
// theirs would be reported too; errs are the rest.
func (c *Config) include() (errs, unread []error) {
	if len(c.Include) == 0 {
		return nil, nil
	}
	files, unread := c.includedFiles()
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			unread = append(unread, &Error{File: file, Msg: pathErrorText(err)})
			continue
		}
		var part Config
		md, err := decode(file, data, &part)
		if err != nil {
			unread = append(unread, err)
			continue
		}
		c.Included = append(c.Included, file)
		errs = append(errs, unknownKeys(file, data, md, len(c.Tasks))...)
		errs = append(errs, mainFileKeys(file, c.File, md)...)
		part.accountOrder = accountOrder(md)
		for _, name := range part.AccountNames() {
			if prev, dup := c.Accounts[name]; dup {
				errs = append(errs, &Error{File: file, Section: fmt.Sprintf("account %q", name), Msg: fmt.Sprintf("is defined in %s too; account names must be unique", prev.File)})
				continue
			}
			if c.Accounts == nil {
				c.Accounts = map[string]*Account{}
			}
			c.Accounts[name] = claimAccount(part.Accounts[name], file)
			c.accountOrder = append(c.accountOrder, name)
		}
		for _, t := range part.Tasks {
			t.File = file
			c.Tasks = append(c.Tasks, t)
		}
	}
	return errs, unread
}

// includedFiles lists the files c.Include matches: the patterns in the
// order given, each one's matches in lexical order, each file once, and
// never the main file itself.
func (c *Config) includedFiles() ([]string, []error) {
	base := filepath.Dir(c.File)
	seen := map[string]bool{c.File: true}
	var files []string
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, &Error{File: c.File, Key: "include", Msg: fmt.Sprintf(format, args...)})
	}
	for _, pattern := range c.Include {
		if pattern == "" {
			fail("an empty pattern; write e.g. \"conf.d/*.toml\"")
			continue
		}
		p := resolve(base, pattern)
		var matches []string
		if isGlob(pattern) {
			all, err := filepath.Glob(p)
			if err != nil {
				fail("%q: %v", pattern, err)
				continue
			}
			for _, m := range all {
				if !hidden(p, m) {
					matches = append(matches, m)
				}
			}
			slices.Sort(matches)
		} else {
			// A path without wildcards names one file the operator expects
			// to be there; a pattern may rightly match none (an empty conf.d).
			if _, err := os.Stat(p); err != nil {
				fail("%q: %s (a pattern with a wildcard may match no file; a path without one must name a file)", pattern, pathErrorText(err))
				continue
			}
			matches = []string{p}
		}
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.IsDir() {
				fail("%q matches the folder %s; include names files (e.g. %q)", pattern, m, filepath.ToSlash(filepath.Join(pattern, "*.toml")))
				continue
			}
			if !seen[m] {
				seen[m] = true
				files = append(files, m)
			}
		}
	}
	return files, errs
}

// isGlob reports whether pattern holds one of filepath.Match's wildcards.
func isGlob(pattern string) bool { return strings.ContainsAny(pattern, `*?[`) }

// hidden reports whether a wildcard of pattern matched a name starting
// with a dot in match, which a shell's wildcard would not: editors'
// leftovers (.#x.toml), version control's folders, and the ..data links a
// Kubernetes volume keeps beside its files stay out.
func hidden(pattern, match string) bool {
	pp := strings.Split(pattern, string(filepath.Separator))
	mp := strings.Split(match, string(filepath.Separator))
	if len(pp) != len(mp) {
		return false
	}
	for i, name := range mp {
		if strings.HasPrefix(name, ".") && !strings.HasPrefix(pp[i], ".") && isGlob(pp[i]) {
			return true
		}
	}
	return false
}

// mainFileKeys reports the top-level keys an included file sets that only
// the main file may: includedKeys are the others. A key mailtask does not
// know at all is unknownKeys' to report.
func mainFileKeys(file, main string, md toml.MetaData) []error {
	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[k.String()] = true
	}
	var tops []string
	for _, k := range md.Keys() {
		if top := k[0]; !slices.Contains(includedKeys, top) && !slices.Contains(tops, top) && !undecoded[k.String()] {
			tops = append(tops, top)
		}
	}
	errs := make([]error, 0, len(tops))
	for _, top := range tops {
		msg := fmt.Sprintf("is a setting of the main configuration file %s only; an included file holds [accounts.NAME] tables and [[task]] entries", main)
		if top == "include" {
			msg = fmt.Sprintf("included files do not include others; list the pattern in the include of %s", main)
		}
		errs = append(errs, &Error{File: file, Key: top, Msg: msg})
	}
	return errs
}

// claimAccount marks a as defined in file; an [accounts.x] with nothing in
// it still decodes to a value, so nil is defence.
func claimAccount(a *Account, file string) *Account {
	if a == nil {
		a = &Account{}
	}
	a.File = file
	return a
}

// pathErrorText is err without the path an *fs.PathError repeats, for an
// Error that names the file already.
func pathErrorText(err error) string {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
