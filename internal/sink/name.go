package sink

import (
	"errors"
	"strconv"
	"strings"
)

// MaxSuffix bounds the search for a free name so a folder full of
// "x (n).pdf" fails loudly instead of slowing every run down.
const MaxSuffix = 10000

var errBadName = errors.New(`name must be a single path segment: not empty, ".", or "..", no '/', '\', or NUL, and not starting with ` + tempPrefix)

// CheckName is the last line of defence behind the caller's sanitising: the
// os.Root already stops escapes, this stops names that would write into a
// subfolder or collide with the temporary-file namespace. The object sink
// holds the segments of its keys to the same rule.
func CheckName(name string) error {
	if name == "" || name == "." || name == ".." ||
		strings.ContainsAny(name, "/\\\x00") ||
		strings.HasPrefix(name, tempPrefix) {
		return errBadName
	}
	return nil
}

// Candidate returns the n-th name to try for name under the Suffix policy
// (the object sink's too): name itself, then
// "stem (1).ext", "stem (2).ext", ... Only the last extension is split off,
// and a leading dot (".profile") is part of the stem, not an extension.
func Candidate(name string, n int) string {
	if n == 0 {
		return name
	}
	suffix := " (" + strconv.Itoa(n) + ")"
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[:i] + suffix + name[i:]
	}
	return name + suffix
}
