package extract

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Opaque S/MIME signed mail (application/pkcs7-mime; smime-type=signed-data,
// smime.p7m) carries the real message inside the signature's envelope, a
// CMS SignedData (RFC 5652) whose encapsulated content is the MIME entity
// a person sees. No key is needed to read it, and the signature is not
// checked. signedContent finds the content where it lies in the envelope,
// DER or BER (openssl -stream writes indefinite lengths and the content in
// chunks), reading a header at a time: nothing is copied, and memory
// grows only with the number of chunks, which is bounded.

const (
	asn1Sequence    = 0x30
	asn1Set         = 0x31
	asn1OID         = 0x06
	asn1Integer     = 0x02
	asn1OctetString = 0x04
	asn1Context0    = 0xa0 // [0], constructed
	asn1Constructed = 0x20
	// maxCMSChunks bounds the chunks the content may come in; maxCMSDepth
	// how deep constructed values nest where they are skipped.
	maxCMSChunks = 1 << 18
	maxCMSDepth  = 32
)

var (
	oidSignedData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02} // 1.2.840.113549.1.7.2
	oidData       = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01} // 1.2.840.113549.1.7.1
)

// SignatureUnchecked is File.Signature of a file taken from inside a
// signed message whose signature was not checked.
const SignatureUnchecked = "unchecked"

// errNotSigned: the envelope is not a SignedData with its content in it
// (a detached signature, encrypted mail, or not CMS at all).
var errNotSigned = fmt.Errorf("not an S/MIME signed message with its content inside")

// isSMIME reports whether a part of this type and name may be an opaque
// S/MIME envelope.
func isSMIME(ctype, name string) bool {
	switch ctype {
	case "application/pkcs7-mime", "application/x-pkcs7-mime":
		return true
	}
	return strings.HasSuffix(strings.ToLower(name), ".p7m")
}

// asn1Value is a BER value's header: its tag, where its content starts,
// and its length (-1: indefinite, ended by two zero bytes).
type asn1Value struct {
	tag        byte
	start, n   int64
	end        int64 // past the value; unknown (0) for an indefinite one
	indefinite bool
}

// cmsReader reads BER values from an envelope.
type cmsReader struct {
	t    *text
	size int64
}

// header reads the header of the value at pos.
func (c *cmsReader) header(pos, limit int64) (asn1Value, error) {
	b := c.t.slice(int(pos), int(min(pos+10, limit)))
	if len(b) < 2 || b[0]&0x1f == 0x1f {
		return asn1Value{}, errNotSigned
	}
	v := asn1Value{tag: b[0]}
	switch l := b[1]; {
	case l < 0x80:
		v.start, v.n = pos+2, int64(l)
	case l == 0x80:
		if b[0]&asn1Constructed == 0 {
			return asn1Value{}, errNotSigned
		}
		v.start, v.n, v.indefinite = pos+2, -1, true
	default:
		k := int(l & 0x7f)
		if k > 8 || len(b) < 2+k {
			return asn1Value{}, errNotSigned
		}
		for _, x := range b[2 : 2+k] {
			if v.n > (1<<55)-1 {
				return asn1Value{}, errNotSigned
			}
			v.n = v.n<<8 | int64(x)
		}
		v.start = pos + 2 + int64(k)
	}
	if !v.indefinite {
		v.end = v.start + v.n
		if v.end > limit {
			return asn1Value{}, errNotSigned
		}
	}
	return v, nil
}

// expect reads the header at pos and checks its tag.
func (c *cmsReader) expect(pos, limit int64, tag byte) (asn1Value, error) {
	v, err := c.header(pos, limit)
	if err == nil && v.tag != tag {
		err = errNotSigned
	}
	return v, err
}

// skip returns where the value at pos ends.
func (c *cmsReader) skip(pos, limit int64, depth int) (int64, error) {
	v, err := c.header(pos, limit)
	if err != nil || !v.indefinite {
		return v.end, err
	}
	if depth == maxCMSDepth {
		return 0, errNotSigned
	}
	for p := v.start; ; {
		if c.eoc(p, limit) {
			return p + 2, nil
		}
		if p, err = c.skip(p, limit, depth+1); err != nil {
			return 0, err
		}
	}
}

// eoc reports whether the end-of-contents octets are at pos.
func (c *cmsReader) eoc(pos, limit int64) bool {
	return pos+2 <= limit && bytes.Equal(c.t.slice(int(pos), int(pos+2)), []byte{0, 0})
}

// oid reports whether the value at pos is the OBJECT IDENTIFIER want, and
// where it ends.
func (c *cmsReader) oid(pos, limit int64, want []byte) (bool, int64, error) {
	v, err := c.expect(pos, limit, asn1OID)
	if err != nil {
		return false, 0, err
	}
	return v.n == int64(len(want)) && bytes.Equal(c.t.slice(int(v.start), int(v.end)), want), v.end, nil
}

// signedContent returns the content of the SignedData envelope of size
// bytes in r, as a reader of its chunks.
func signedContent(r io.ReaderAt, size int64) (*chunks, error) {
	c := &cmsReader{t: textAt(r, size), size: size}
	c.t.block = 16 << 10
	content, err := c.content()
	if c.t.err != nil {
		return nil, c.t.err
	}
	if err != nil {
		return nil, err
	}
	content.src = r
	return content, nil
}

func (c *cmsReader) content() (*chunks, error) {
	// ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT SignedData }
	ci, err := c.expect(0, c.size, asn1Sequence)
	if err != nil {
		return nil, err
	}
	limit := c.size
	signed, pos, err := c.oid(ci.start, limit, oidSignedData)
	if err != nil || !signed {
		return nil, errNotSigned
	}
	explicit, err := c.expect(pos, limit, asn1Context0)
	if err != nil {
		return nil, err
	}
	// SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo, ... }
	sd, err := c.expect(explicit.start, limit, asn1Sequence)
	if err != nil {
		return nil, err
	}
	pos = sd.start
	for _, tag := range []byte{asn1Integer, asn1Set} {
		if _, err := c.expect(pos, limit, tag); err != nil {
			return nil, err
		}
		if pos, err = c.skip(pos, limit, 0); err != nil {
			return nil, err
		}
	}
	// EncapsulatedContentInfo ::= SEQUENCE { eContentType OID, eContent [0] EXPLICIT OCTET STRING OPTIONAL }
	eci, err := c.expect(pos, limit, asn1Sequence)
	if err != nil {
		return nil, err
	}
	data, pos, err := c.oid(eci.start, limit, oidData)
	if err != nil || !data {
		return nil, errNotSigned
	}
	if !eci.indefinite && pos == eci.end || eci.indefinite && c.eoc(pos, limit) {
		return nil, errNotSigned // detached: the content is elsewhere
	}
	econtent, err := c.expect(pos, limit, asn1Context0)
	if err != nil {
		return nil, err
	}
	ch := &chunks{}
	if _, err := c.octets(econtent.start, limit, ch, 0); err != nil {
		return nil, err
	}
	return ch, nil
}

// octets adds the content of the OCTET STRING at pos to ch: the value
// itself, or each chunk of a constructed one; it returns where the value
// ends.
func (c *cmsReader) octets(pos, limit int64, ch *chunks, depth int) (int64, error) {
	v, err := c.header(pos, limit)
	switch {
	case err != nil:
		return 0, err
	case v.tag == asn1OctetString:
		return v.end, ch.add(v.start, v.n)
	case v.tag != asn1OctetString|asn1Constructed || depth == maxCMSDepth:
		return 0, errNotSigned
	}
	end := v.end
	if v.indefinite {
		end = limit
	}
	for p := v.start; ; {
		switch {
		case v.indefinite && c.eoc(p, end):
			return p + 2, nil
		case !v.indefinite && p == end:
			return p, nil
		}
		if p, err = c.octets(p, end, ch, depth+1); err != nil {
			return 0, err
		}
	}
}

// chunks is content that lies in pieces in src, read as one.
type chunks struct {
	src    io.ReaderAt
	spans  []span64
	starts []int64 // starts[i] is where spans[i] begins in the content
	size   int64
}

func (ch *chunks) add(off, n int64) error {
	if len(ch.spans) == maxCMSChunks {
		return fmt.Errorf("S/MIME content in more than %d pieces", maxCMSChunks)
	}
	if n > 0 {
		ch.spans = append(ch.spans, span64{off, n})
		ch.starts = append(ch.starts, ch.size)
		ch.size += n
	}
	return nil
}

func (ch *chunks) ReadAt(p []byte, off int64) (int, error) {
	if off >= ch.size {
		return 0, io.EOF
	}
	i := sort.Search(len(ch.starts), func(i int) bool { return ch.starts[i] > off }) - 1
	read := 0
	for ; i < len(ch.spans) && read < len(p); i++ {
		s := ch.spans[i]
		at := off + int64(read) - ch.starts[i]
		k, err := ch.src.ReadAt(p[read:min(len(p), read+int(s.n-at))], s.off+at)
		read += k
		if err != nil && !(err == io.EOF && at+int64(k) == s.n) {
			return read, err
		}
	}
	if read < len(p) {
		return read, io.EOF
	}
	return read, nil
}

// signedMessage is the message inside f, an opaque S/MIME envelope, nested
// depth deep; false when f is no such envelope (a detached signature,
// encrypted mail, a signed document rather than a message), or it cannot
// be read.
func (m *Message) signedMessage(f File, depth int) (*Message, bool) {
	if depth > maxNesting {
		m.problemf("signed message %s nested more than %d deep, kept whole", f.Name, maxNesting)
		return nil, false
	}
	content, err := signedContent(f.Open(), f.Size)
	if err != nil {
		if !errors.Is(err, errNotSigned) {
			m.problemf("%s: %v", f.Name, err)
		}
		return nil, false
	}
	inner, err := parseNested(textAt(content, content.size), depth)
	if err != nil || len(inner.Header["Content-Type"]) == 0 {
		return nil, false // a signed document, not a message: kept as it is
	}
	for _, p := range inner.Problems {
		m.problemf("in signed message %s: %s", f.Name, p)
	}
	signed(inner.Files)
	return inner, true
}

// signed marks files as taken from inside a signature's envelope.
func signed(files []File) {
	for i := range files {
		files[i].Signature = SignatureUnchecked
	}
}
