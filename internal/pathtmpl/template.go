package pathtmpl

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"mailtask/internal/extract"
)

// Variables a message provides, and those a file adds.
var (
	MessageVars = []string{"task", "account", "mailbox", "yyyy", "mm", "dd", "from", "from_domain", "subject", "message_id", "uid"}
	FileVars    = []string{"name", "ext", "n"}
)

// Template is a parsed path template.
type Template struct {
	segs [][]part
}

// part is a literal or, when v is set, a variable.
type part struct {
	lit string
	v   string
}

// Parse parses src, a relative template of folder segments separated by
// '/', allowing only the variables in known.
func Parse(src string, known []string) (*Template, error) {
	t := &Template{}
	for seg := range strings.SplitSeq(src, "/") {
		parts, err := parseSegment(seg, known)
		if err != nil {
			return nil, err
		}
		t.segs = append(t.segs, parts)
	}
	return t, nil
}

func parseSegment(seg string, known []string) ([]part, error) {
	switch seg {
	case "":
		return nil, errors.New("empty folder name (a leading, trailing or doubled '/')")
	case ".", "..":
		return nil, fmt.Errorf("%q is not allowed as a folder name", seg)
	}
	var parts []part
	for seg != "" {
		open := strings.IndexAny(seg, "{}")
		if open < 0 {
			parts = append(parts, part{lit: seg})
			break
		}
		if seg[open] == '}' {
			return nil, errors.New("'}' without '{'")
		}
		if open > 0 {
			parts = append(parts, part{lit: seg[:open]})
		}
		end := strings.IndexByte(seg[open:], '}')
		if end < 0 {
			return nil, errors.New("'{' without '}'")
		}
		name := seg[open+1 : open+end]
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("unknown variable {%s} (known: {%s})", name, strings.Join(known, "}, {"))
		}
		parts = append(parts, part{v: name})
		seg = seg[open+end+1:]
	}
	return parts, nil
}

// Expand substitutes vars and returns a relative, slash-separated path
// whose every segment is a safe file name: never empty, ".", "..", never
// containing a separator, NUL or control character. A variable missing from
// vars counts as empty.
func (t *Template) Expand(vars map[string]string) string {
	segs := make([]string, len(t.segs))
	for i, seg := range t.segs {
		var b strings.Builder
		for _, p := range seg {
			if p.v == "" {
				b.WriteString(p.lit)
				continue
			}
			b.WriteString(Value(vars[p.v]))
		}
		segs[i] = extract.SanitizeName(b.String())
	}
	return strings.Join(segs, "/")
}

// Value makes v safe inside a path segment: separators become '_', and the
// rest is sanitised as a file name would be. An empty value stays empty.
func Value(v string) string {
	if v == "" {
		return ""
	}
	v = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' {
			return '_'
		}
		return r
	}, v)
	return extract.SanitizeName(v)
}

// SplitRoot splits an absolute destination into the folder before its
// first variable, which must exist or be created as is, and the template of
// the folders below it ("" when there is no variable).
func SplitRoot(dest string) (root, rel string) {
	i := strings.IndexByte(dest, '{')
	if i < 0 {
		return dest, ""
	}
	sep := strings.LastIndexByte(dest[:i], filepath.Separator)
	if sep < 0 {
		return "", filepath.ToSlash(dest)
	}
	root = dest[:sep]
	if root == "" {
		root = string(filepath.Separator)
	}
	return root, filepath.ToSlash(dest[sep+1:])
}
