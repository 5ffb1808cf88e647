package rules

import (
	"regexp"
	"strings"
	"unicode"
)

// Glob is a compiled case-insensitive glob.
type Glob struct {
	re  *regexp.Regexp
	lit string // longest literal run without white space, for server search
}

// NewGlob compiles a glob. Every string is a valid glob: a trailing '\' is
// a literal backslash.
func NewGlob(pattern string) Glob {
	var re strings.Builder
	re.WriteString(`(?is)\A`)
	var run, best strings.Builder
	flush := func() {
		for _, word := range strings.FieldsFunc(run.String(), unicode.IsSpace) {
			if len(word) > best.Len() && isASCII(word) {
				best.Reset()
				best.WriteString(word)
			}
		}
		run.Reset()
	}
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '*':
			re.WriteString(`.*`)
			flush()
		case r == '?':
			re.WriteString(`.`)
			flush()
		case r == '\\' && i+1 < len(rs):
			i++
			re.WriteString(regexp.QuoteMeta(string(rs[i])))
			run.WriteRune(rs[i])
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
			run.WriteRune(r)
		}
	}
	flush()
	re.WriteString(`\z`)
	return Glob{re: regexp.MustCompile(re.String()), lit: best.String()}
}

// Match reports whether s matches the whole glob, ignoring case.
func (g Glob) Match(s string) bool { return g.re.MatchString(s) }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Patterns is one key's globs and regular expressions; a value matches if
// any of them does.
type Patterns struct {
	globs   []Glob
	regexes []*regexp.Regexp
}

// NewPatterns compiles globs and case-insensitive regular expressions. The
// configuration has already checked that the regular expressions compile.
func NewPatterns(globs, regexes []string) (Patterns, error) {
	var p Patterns
	for _, g := range globs {
		p.globs = append(p.globs, NewGlob(g))
	}
	for _, r := range regexes {
		re, err := regexp.Compile("(?i)" + r)
		if err != nil {
			return Patterns{}, err
		}
		p.regexes = append(p.regexes, re)
	}
	return p, nil
}

// Set reports whether there is any pattern.
func (p Patterns) Set() bool { return len(p.globs)+len(p.regexes) > 0 }

// Match reports whether any of values matches any pattern.
func (p Patterns) Match(values ...string) bool {
	for _, v := range values {
		for _, g := range p.globs {
			if g.Match(v) {
				return true
			}
		}
		for _, re := range p.regexes {
			if re.MatchString(v) {
				return true
			}
		}
	}
	return false
}

// literals returns a substring per pattern such that a value matching the
// patterns contains one of them, or false when that cannot be said (a
// regular expression, or a glob without literal text such as "*").
func (p Patterns) literals() ([]string, bool) {
	if len(p.regexes) > 0 || len(p.globs) == 0 {
		return nil, false
	}
	lits := make([]string, 0, len(p.globs))
	for _, g := range p.globs {
		if g.lit == "" {
			return nil, false
		}
		lits = append(lits, g.lit)
	}
	return lits, true
}
