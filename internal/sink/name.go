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

// Family returns the name every variant of name comes from: name with
// each " (n)" or " (#hash)" that Candidate or HashedName puts before the
// extension taken out ("x (1) (2).pdf" is of the family "x.pdf"). A name's
// variants are all of its family, so files of different families can
// never take each other's name, whatever the order they are named in.
func Family(name string) string {
	stem, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		stem, ext = name[:i], name[i:]
	}
	for {
		open := strings.LastIndex(stem, " (")
		if open < 0 || !strings.HasSuffix(stem, ")") || !isTag(stem[open+2:len(stem)-1]) {
			return stem + ext
		}
		stem = stem[:open]
	}
}

// isTag reports whether tag is what Candidate or HashedName puts between
// the parentheses: a number, or "#" and hex digits.
func isTag(tag string) bool {
	digits := strings.TrimPrefix(tag, "#")
	if digits == "" {
		return false
	}
	for _, c := range digits {
		if !('0' <= c && c <= '9' || len(digits) < len(tag) && 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// candidateWith puts " (tag)" into name before its extension.
func candidateWith(name, tag string) string {
	suffix := " (" + tag + ")"
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[:i] + suffix + name[i:]
	}
	return name + suffix
}
