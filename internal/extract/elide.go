package extract

import (
	"bytes"
	"fmt"

	"github.com/jhillyerd/enmime/v2"
)

// enmime's boundary reader looks at every byte of a part, several calls
// deep, once per enclosing multipart: at about 60 MB/s it is most of the
// time a message takes to parse. The bodies of large attachments (base64,
// which has no "-" in it) cannot hold a boundary, nor can the stretches of
// other bodies between their "--"s, so enmime is fed a skeleton of the
// message with the inner bytes of each such stretch replaced by a short
// placeholder, and the bytes are put back into the parts afterwards.
//
// The skeleton parses exactly like the message. enmime's boundary reader
// decides at each CR and LF, looking ahead at most the boundary's length
// plus 6 bytes, and also at every other byte of the first read of an
// entity (at most 4,096 bytes, its bufio buffer) — there only a "--" at
// that byte or the next can make it stop, and reaching the end of input
// within the look-ahead marks the part unclosed. Everywhere else it copies
// one byte and moves on. So a run of bytes with no "--" in it, nor in the
// look-ahead around it, nor in the placeholder, is copied through whatever
// replaces it, first read or not, and every decision before and after it
// is taken on the same bytes — with two exceptions, where the run must
// start past the first read: the skeleton being shorter, bytes after the
// run move into the first read of each multipart that encloses the leaf
// and is itself a part, and into the leaf's own first read; there a "--"
// after the run could end the part (so a leaf whose body has one, or is
// ended by a delimiter in mid-line, or ends so near the end of input that
// the look-ahead would reach it and take the part for unclosed, is left
// out only past its first read). The placeholder holds no "-", CR or LF
// and never occurs in the message. The argument needs every boundary enmime uses to
// be short (checked on scanShape's view and on enmime's). Should enmime
// still see the structure differently from scanShape (placeholders not
// found in order, each in a leaf between the message's own bytes), the
// message is parsed whole.
// TestShapeMatchesEnmime and FuzzElide hold the two parses to equality.
const (
	elideMin      = 1 << 10    // smaller runs are not worth it
	elideLook     = 8          // kept at each end of a body with the longest boundary's length: more than the look-ahead (boundary + 6)
	elideHead     = 4096 + 256 // bytes kept after an entity's start where needed: its first read, and more than the look-ahead
	elideBoundary = 200        // longest boundary for which elideHead holds (RFC 2046: 70)
)

var elideMark = []byte("\x00mailtask elided ")

// readEnvelope parses the message with enmime, the skeleton way where it
// can. elided holds the parts whose content enmime did not see, with where
// that content lies in the message; their Content is a placeholder.
func readEnvelope(t *text, sh shape) (env *enmime.Envelope, elided map[*enmime.Part]span, err error) {
	if skeleton, spans := elide(t, sh); spans != nil {
		env, err := parser().ReadEnvelope(bytes.NewReader(skeleton))
		if err == nil {
			if elided, ok := restore(env, t, spans); ok {
				return env, elided, nil
			}
		}
	}
	env, err = parser().ReadEnvelope(t.section(0, t.size))
	return env, nil, err
}

func parser() *enmime.Parser {
	return enmime.NewParser(
		enmime.RawContent(true),
		enmime.SkipMalformedParts(true),
		enmime.MultipartWOBoundaryAsSinglePart(true),
		enmime.DisableTextConversion(true),
		enmime.MaxStoredPartErrors(maxPartProblems),
	)
}

// elide returns the skeleton of the message and the spans it left out, in
// order, or nil spans when there is nothing worth leaving out. A body with
// "--" in it is left out around each "--", with the look-ahead kept on
// either side. What is left out starts past the leaf's first read when a
// "--" follows it in the body or ends the body in mid-line: the bytes
// after it move into the first read, where enmime takes a "--boundary" in
// mid-line that it may pass over further on.
func elide(t *text, sh shape) ([]byte, []span) {
	if sh.longestBoundary > elideBoundary || t.index(0, elideMark) >= 0 {
		return nil, nil
	}
	edge := sh.longestBoundary + elideLook
	var out []span
	for _, l := range sh.leaves {
		lo, hi := l.body.start+edge, l.body.end-edge
		if l.outer >= 0 {
			lo = max(lo, l.outer+elideHead)
		}
		// A "--" in the body, or a delimiter that ends the body in mid-line
		// (which enmime takes in a first read, and may not elsewhere).
		dash := t.index(l.body.start, []byte("--"))
		if t.size-l.body.end < edge || dash >= 0 && dash <= l.body.end {
			lo = max(lo, l.part+elideHead)
		}
		// dash is the first "--" from s-edge on: the body is searched once.
		for s := lo; s < hi; {
			if dash >= 0 && dash < s-edge {
				dash = t.index(s-edge, []byte("--"))
			}
			e, next := hi, hi
			if dash >= 0 && dash < hi+edge {
				e, next = min(hi, dash-edge), dash+2+edge
			}
			if e-s >= elideMin {
				out = append(out, span{s, e})
			}
			s = next
		}
	}
	if out == nil {
		return nil, nil
	}
	var b bytes.Buffer
	last := 0
	for i, s := range out {
		b.ReadFrom(t.section(last, s.start))
		b.Write(placeholder(i))
		last = s.end
	}
	b.ReadFrom(t.section(last, t.size))
	return b.Bytes(), out
}

func placeholder(i int) []byte {
	return fmt.Appendf(bytes.Clone(elideMark), "%d\x00", i)
}

// restore finds where the content of each part holding placeholders lies
// in the message. It reports false when a placeholder is not where it must
// be, or the bytes around and between a part's placeholders are not the
// message's.
func restore(env *enmime.Envelope, t *text, elided []span) (map[*enmime.Part]span, bool) {
	parts := make(map[*enmime.Part]span, len(elided))
	next := 0
	ok := true
	env.Root.DepthMatchAll(func(p *enmime.Part) bool {
		if len(p.Boundary) > elideBoundary {
			ok = false
		}
		if !ok || !bytes.Contains(p.Content, elideMark) {
			return false
		}
		if p.FirstChild != nil || next == len(elided) {
			ok = false
			return false
		}
		mark := placeholder(next)
		k := bytes.Index(p.Content, mark)
		first := elided[next]
		head := p.Content[:max(k, 0)]
		if k < 0 || len(head) > first.start || !bytes.Equal(t.slice(first.start-len(head), first.start), head) {
			ok = false
			return false
		}
		rest, last := p.Content[k+len(mark):], first
		for next++; ; next++ {
			i := bytes.Index(rest, elideMark)
			if i < 0 {
				break
			}
			if next == len(elided) || !bytes.HasPrefix(rest[i:], placeholder(next)) ||
				elided[next].start-last.end != i || !bytes.Equal(t.slice(last.end, elided[next].start), rest[:i]) {
				ok = false
				return false
			}
			rest, last = rest[i+len(placeholder(next)):], elided[next]
		}
		if last.end+len(rest) > t.size || !bytes.Equal(t.slice(last.end, last.end+len(rest)), rest) {
			ok = false
			return false
		}
		parts[p] = span{first.start - len(head), last.end + len(rest)}
		return false
	})
	return parts, ok && next == len(elided)
}
