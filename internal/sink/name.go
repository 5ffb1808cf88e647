package sink

import (
	"errors"
	"strconv"
	"strings"
)

// MaxSuffix is the last numbered variant of a name ("x (10000).pdf");
// past it, names carry the content's hash (HashedName), so that a folder
// full of "x (n).pdf" neither slows every run down nor fails it.
const MaxSuffix = 10000

// maxSuffix is MaxSuffix, a variable only so that tests can reach it
// without creating ten thousand files.
var maxSuffix = MaxSuffix

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
	return candidateWith(name, strconv.Itoa(n))
}

// candidateWith puts " (tag)" into name before its extension.
func candidateWith(name, tag string) string {
	suffix := " (" + tag + ")"
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[:i] + suffix + name[i:]
	}
	return name + suffix
}
