package extract

import (
	"bytes"
	"fmt"

	"github.com/jhillyerd/enmime/v2"
)

// enmime's boundary reader looks at every byte of a part, several calls
// deep, once per enclosing multipart: at about 60 MB/s it is most of the
// time a message takes to parse. The bodies of large attachments (base64,
// which has no "-" in it) cannot hold a boundary, so enmime is fed a
// skeleton of the message with the inner bytes of each such body replaced
// by a short placeholder, and the bytes are put back into the parts
// afterwards.
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
// and is itself a part (those bytes may hold "--"), and into the leaf's
// own first read, where a body that ends near the end of input would be
// taken for unclosed and a delimiter that ends it in mid-line would be
// taken wherever it lies. The placeholder holds no "-", CR or LF and never
// occurs in the message. The argument needs every boundary enmime uses to
// be short (checked on scanShape's view and on enmime's). Should enmime
// still see the structure differently from scanShape (a placeholder not
// found in exactly one part's content), the message is parsed whole.
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
// order, or nil spans when there is nothing worth leaving out.
func elide(t *text, sh shape) ([]byte, []span) {
	if sh.longestBoundary > elideBoundary || t.index(0, elideMark) >= 0 {
		return nil, nil
	}
	edge := sh.longestBoundary + elideLook
	var out []span
	for _, l := range sh.leaves {
		s := span{l.body.start + edge, l.body.end - edge}
		if l.outer >= 0 {
			s.start = max(s.start, l.outer+elideHead)
		}
		// The bytes after the run move into the leaf's first read, where
		// enmime takes a delimiter in mid-line that it may pass over
		// further on: one that ends the body so is not to move there.
		dash := t.index(l.body.start, []byte("--"))
		if t.size-l.body.end < edge || dash >= 0 && dash <= l.body.end {
			s.start = max(s.start, l.part+elideHead)
		}
		if s.end-s.start < elideMin {
			continue
		}
		if dash >= 0 && dash+2 <= l.body.end {
			continue
		}
		out = append(out, s)
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

// restore finds where the content of each part holding a placeholder lies
// in the message. It reports false when a placeholder is not where it must
// be.
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
		s := elided[next]
		head, tail := p.Content[:max(k, 0)], p.Content[max(k, 0)+len(mark):]
		if k < 0 || bytes.Contains(tail, elideMark) || bytes.Contains(head, elideMark) ||
			len(head) > s.start || s.end+len(tail) > t.size ||
			!bytes.Equal(t.slice(s.start-len(head), s.start), head) || !bytes.Equal(t.slice(s.end, s.end+len(tail)), tail) {
			ok = false
			return false
		}
		parts[p] = span{s.start - len(head), s.end + len(tail)}
		next++
		return false
	})
	return parts, ok && next == len(elided)
}
