package extract

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"

	"github.com/jhillyerd/enmime/v2/mediatype"
)

// Limits on a message's MIME shape, checked before enmime sees it. enmime
// is quadratic in parts and depth: 40,000 tiny sibling parts cost it 8 s,
// 10,000 nested multiparts a minute. Real mail stays far below: a mail
// with hundreds of attachments is rare, and forwarding chains nest a
// dozen multiparts deep, not a hundred (the malformed corpus' 100-deep
// message still passes). A message beyond a limit is refused as
// unparseable, so the pipeline quarantines it with the reason.
const (
	maxParts = 2000 // MIME parts (boundary delimiters), at all depths together
	maxDepth = 100  // multiparts open at once
	// enmime is exponential in the multiparts that end together without
	// their close delimiter, at the end of the message or at a delimiter
	// of one around them: each such chain of u costs it about 2^u steps
	// (12 nested multiparts left open take it 3 ms, 16 take 30 ms, 37 more
	// than ten minutes). A message cut short leaves a few open; one with
	// more than maxUnclosed open at once, or whose chains add up to more
	// than maxUnclosedWork steps, is refused.
	maxUnclosed     = 12
	maxUnclosedWork = 1 << 14
	// maxHeader bounds each header block, the message's and each part's:
	// enmime holds a header whole, several times over (a header line of
	// 100 MB cost it 750 MB). Exchange Online refuses mail with more than
	// 256 KB of header, Postfix cuts headers at 100 KB by default.
	maxHeader = 1 << 20
)

// shape is what scanShape learns of a message without parsing it.
type shape struct {
	parts, depth int
	// unclosedWork adds up 2^u for each chain of u multiparts that end
	// together without their close delimiter.
	unclosedWork int
	// leaves are the parts that are not multiparts, in order.
	leaves []leaf
	// longestBoundary is the length of the longest boundary in use.
	longestBoundary int
}

type span struct{ start, end int }

// leaf is a part that is not a multipart, as offsets into the message.
type leaf struct {
	part int  // where its header starts
	body span // its body, without the line break before the next boundary
	// outer is where the innermost multipart holding the leaf starts, if
	// that multipart is itself a part of another; -1 otherwise.
	outer int
}

// scanShape walks the MIME structure of the message in one pass, looking only at
// header blocks and at each "--", so its time is linear in the message
// (times at most maxDepth boundaries compared at a "--"). It returns an error
// wrapping ErrUnparseable when a limit is exceeded; it does not judge
// anything else, enmime does.
func scanShape(t *text) (shape, error) {
	var (
		sh     shape
		stack  [][]byte // "--" + boundary of each open multipart, innermost last
		starts []int    // where each multipart on stack starts
		pos    int      // start of the next entity's header
	)
	for root := true; ; root = false {
		ctype, body, err := scanHeader(t, pos, stack)
		if err != nil {
			return sh, err
		}
		isLeaf := true
		if b := multipartBoundary(ctype, root); b != "" {
			if len(stack) == maxDepth {
				return sh, fmt.Errorf("%w: multiparts nested more than %d deep", ErrUnparseable, maxDepth)
			}
			stack = append(stack, []byte("--"+b))
			starts = append(starts[:len(stack)-1], pos)
			sh.depth = max(sh.depth, len(stack))
			sh.longestBoundary = max(sh.longestBoundary, len(b))
			isLeaf = false
		}
		from := body
		for {
			i, level, final := nextBoundary(t, from, t.size, stack)
			if isLeaf {
				end := t.size
				if i >= 0 {
					end = trimNewline(t, body, i)
				}
				outer := -1
				if len(stack) > 1 {
					outer = starts[len(stack)-1]
				}
				sh.leaves = append(sh.leaves, leaf{pos, span{body, end}, outer})
				isLeaf = false
			}
			if i < 0 {
				return sh, sh.unclosed(len(stack))
			}
			if err := sh.unclosed(len(stack) - level - 1); err != nil {
				return sh, err
			}
			from = lineEnd(t, i)
			if final {
				stack = stack[:level]
				continue // the epilogue, in the enclosing multipart's part
			}
			stack = stack[:level+1]
			if sh.parts++; sh.parts > maxParts {
				return sh, fmt.Errorf("%w: more than %d MIME parts", ErrUnparseable, maxParts)
			}
			pos = from
			break
		}
	}
}

// unclosed counts u multiparts that end together without their close
// delimiter, and fails when they cost enmime too much.
func (sh *shape) unclosed(u int) error {
	if u == 0 {
		return nil
	}
	if u > maxUnclosed {
		return fmt.Errorf("%w: %d multiparts left open at once, more than %d", ErrUnparseable, u, maxUnclosed)
	}
	if sh.unclosedWork += 1 << u; sh.unclosedWork > maxUnclosedWork {
		return fmt.Errorf("%w: multiparts left open, nested, again and again", ErrUnparseable)
	}
	return nil
}

// scanHeader reads the header block starting at pos and returns its
// Content-Type value and where the body starts, reading lines as enmime's
// header reader does (header.go there): a line that starts with white
// space continues the field before it, and so does one with no colon;
// one that starts with a colon, or has a field name with a byte no name
// may hold, is skipped; "Name :" is "Name:"; of several Content-Type
// fields the first counts. A delimiter of a multipart on stack ends the
// header block, and the part, as it ends them for enmime: a run of
// delimiter lines is as many empty parts. A header block larger than
// maxHeader is an error wrapping ErrUnparseable, found before any of its
// lines is read into memory.
func scanHeader(t *text, pos int, stack [][]byte) (ctype string, body int, err error) {
	var ct []byte
	inCT, seen := false, false
	value := func() string { return string(bytes.TrimRight(ct, " \t")) }
	start := pos
	for pos < t.size {
		end := lineEnd(t, pos)
		if i, _, _ := nextBoundary(t, pos, end, stack); i >= 0 {
			return value(), i, nil
		}
		if end-start > maxHeader {
			return "", 0, fmt.Errorf("%w: a header of more than %d bytes (at byte %d)", ErrUnparseable, maxHeader, start)
		}
		line := t.slice(pos, end)
		if l, ok := bytes.CutSuffix(line, []byte("\n")); ok {
			line = bytes.TrimSuffix(l, []byte("\r"))
		}
		pos = end
		colon := bytes.IndexByte(line, ':')
		switch {
		case len(line) == 0:
			return value(), pos, nil
		case line[0] == ' ' || line[0] == '\t' || line[0] == '\r':
			if inCT {
				ct = append(append(ct, ' '), bytes.Trim(line, " \t\r\n")...)
			}
		case colon == 0:
		case colon > 0:
			rest := line[colon+1:]
			if k := bytes.Index(line[:colon+1], []byte(" :")); k >= 0 {
				colon, rest = k, line[k+2:]
			}
			if !fieldName(line[:colon]) {
				continue
			}
			inCT = !seen && strings.EqualFold(string(line[:colon]), "content-type")
			if inCT {
				ct, seen = append([]byte(nil), bytes.Trim(rest, " \t\r\n")...), true
			}
		default:
			if inCT {
				ct = append(append(ct, ' '), line...)
			}
		}
	}
	return value(), pos, nil
}

// fieldName reports whether enmime takes name as a field name: printable
// ASCII but the colon, and spaces.
func fieldName(name []byte) bool {
	for _, c := range name {
		if c != ' ' && (c < '!' || c > '~') {
			return false
		}
	}
	return true
}

// multipartBoundary is the boundary of an entity that enmime reads as a
// multipart, "" for anything else: the message itself if its type is
// multipart/*, a part whatever its type (but text/plain and text/html)
// as long as it has a boundary.
func multipartBoundary(ctype string, root bool) string {
	if ctype == "" {
		return ""
	}
	mtype, params, _, err := mediatype.Parse(ctype)
	mtype = strings.ToLower(mtype)
	switch {
	case err != nil:
		return ""
	case root && !strings.HasPrefix(mtype, "multipart/"):
		return ""
	case !root && (mtype == "text/plain" || mtype == "text/html"):
		return ""
	}
	return params["boundary"]
}

// nextBoundary finds the first delimiter or close delimiter of an open
// multipart that starts in [from, to), the outermost matching one first as
// enmime's nested readers see them. It returns where the delimiter starts
// (-1 if none), the multipart's index in stack, and whether it closes it.
//
// A delimiter is taken anywhere, not only at the start of a line: enmime
// takes one a byte or two into a line, and anywhere in the first 4 KB of a
// part, and the limits must count every part enmime will see.
func nextBoundary(t *text, from, to int, stack [][]byte) (i, level int, final bool) {
	for len(stack) > 0 {
		i := t.indexBefore(from, to, []byte("--"))
		if i < 0 {
			break
		}
		from = i + 1
		if level, final, ok := delimiterAt(t, i, stack); ok {
			return i, level, final
		}
	}
	return -1, 0, false
}

// delimiterAt reports whether a delimiter or close delimiter of a
// multipart on stack starts at i, the outermost first; and which
// multipart's, and whether it closes it.
func delimiterAt(t *text, i int, stack [][]byte) (level int, final, ok bool) {
	for level, b := range stack {
		if !t.hasPrefix(i, b) {
			continue
		}
		rest := t.from(i+len(b), 2)
		if bytes.HasPrefix(rest, []byte("--")) {
			return level, true, true
		}
		// enmime takes any byte that is white space as a rune for the
		// end of a boundary: \v, \f, 0x85 and 0xA0 too.
		if len(rest) == 0 || unicode.IsSpace(rune(rest[0])) {
			return level, false, true
		}
	}
	return 0, false, false
}

// lineEnd is the offset just past the line break of the line holding pos.
func lineEnd(t *text, pos int) int {
	if j := t.index(pos, []byte("\n")); j >= 0 {
		return j + 1
	}
	return t.size
}

// trimNewline is the end of a body that a boundary line at i follows: the
// line break before the boundary belongs to the boundary.
func trimNewline(t *text, body, i int) int {
	if i > body && t.at(i-1) == '\n' {
		i--
		if i > body && t.at(i-1) == '\r' {
			i--
		}
	}
	return i
}
