package extract

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/jhillyerd/enmime/v2"
)

// uuencode, as old clients, scanners and some gateways still send it:
// parts with Content-Transfer-Encoding x-uuencode (or uuencode, x-uue,
// uue), and blocks inside a plain text body, both of the form
//
//	begin 644 name
//	M<60 characters for 45 bytes>
//	...
//	`
//	end
//
// Each line decodes alone: its first character gives its length in bytes.
// A body is decoded when its File is read, as a base64 one is (base64.go):
// scanUU reads it once for its size and defects, and marks where to start
// decoding again, so that reading at an offset does not decode all before.

const (
	uuMarkEvery = 48 << 10 // decoded bytes between two marks
	uuWindow    = 64 << 10 // bytes a decoder reads at a time
	// maxUUBlocks bounds the blocks taken from one body.
	maxUUBlocks = 100
)

// uuBody is the decoded content of uuencoded lines in src.
type uuBody struct {
	markedBody
	src        io.ReaderAt
	start, end int64    // the data lines, after the begin line, up to the end line or the body's end
	marks      []uuMark // where decoding can start
	window     int
}

// uuMark is a line that starts at body offset at, after out decoded bytes.
type uuMark struct{ at, out int64 }

// uuBegin is a begin line: where it starts and ends, and the name it gives.
type uuBegin struct {
	start, end int
	name       string
}

// scanUU reads the uuencoded data at [start, end) of src, which must start
// with a begin line (findUUBegin), and returns it ready to decode, with
// its defects, and where the block ends in src (past its end line).
func scanUU(src io.ReaderAt, start, end int64, window int) (b *uuBody, problem string, next int64, err error) {
	t := textAt(io.NewSectionReader(src, start, end-start), end-start)
	t.block = window
	begin := lineEnd(t, 0)
	b = &uuBody{src: src, start: start + int64(begin), end: end, window: window}
	d := b.decoderFrom(0)
	damaged := 0
	for {
		if b.size >= int64(len(b.marks))*uuMarkEvery {
			b.marks = append(b.marks, uuMark{int64(d.pos), b.size})
		}
		if !d.next() {
			break
		}
		b.size += int64(len(d.out))
		damaged += d.damaged
		d.out = d.out[:0]
	}
	if d.t.err != nil {
		return nil, "", 0, d.t.err
	}
	var problems []string
	if damaged > 0 {
		problems = append(problems, fmt.Sprintf("%d uuencoded lines damaged, decoded as far as they go", damaged))
	}
	if !d.ended {
		problems = append(problems, "uuencode without an end line, truncated")
	}
	b.end = b.start + int64(d.pos)
	b.decoder = b.decoderAt
	return b, strings.Join(problems, "; "), b.end, nil
}

func (b *uuBody) decoderAt(off int64) (io.Reader, int64) {
	m := b.marks[sort.Search(len(b.marks), func(i int) bool { return b.marks[i].out > off })-1]
	return b.decoderFrom(m.at), m.out
}

func (b *uuBody) decoderFrom(at int64) *uuDecoder {
	t := textAt(io.NewSectionReader(b.src, b.start, b.end-b.start), b.end-b.start)
	t.block = b.window
	return &uuDecoder{t: t, pos: int(at)}
}

// uuDecoder decodes uuencoded lines a line at a time.
type uuDecoder struct {
	t       *text
	pos     int    // where the next line starts
	out     []byte // decoded, not yet returned
	damaged int    // lines with defects decoded by the last next
	ended   bool   // the end line was reached
}

// next decodes the line at pos into out; it returns false at the end of
// the data.
func (d *uuDecoder) next() bool {
	d.damaged = 0
	for !d.ended && d.pos < d.t.size {
		end := lineEnd(d.t, d.pos)
		line := bytes.TrimRight(d.t.slice(d.pos, end), "\r\n")
		d.pos = end
		if isUUEnd(line) {
			d.ended = true
			return false
		}
		var ok bool
		if d.out, ok = appendUULine(d.out, line); !ok {
			d.damaged++
		}
		if len(d.out) > 0 || d.damaged > 0 {
			return true
		}
	}
	return false
}

func (d *uuDecoder) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if !d.next() {
			if d.t.err != nil {
				return 0, d.t.err
			}
			return 0, io.EOF
		}
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

func isUUEnd(line []byte) bool {
	return string(bytes.TrimRight(line, " \t")) == "end"
}

// appendUULine appends the bytes line stands for to dst. A line shorter
// than its length character says (trailing spaces stripped on the way) is
// padded with zeros, as other decoders do; it reports false for a line
// with a character no encoder writes, whose bad characters count as zeros.
func appendUULine(dst, line []byte) ([]byte, bool) {
	if len(line) == 0 {
		return dst, true
	}
	if line[0] < ' ' || line[0] > '`' {
		return dst, false
	}
	n := int(line[0]-' ') & 0x3f
	ok := true
	char := func(i int) byte {
		if i >= len(line) {
			return 0
		}
		c := line[i]
		if c < ' ' || c > '`' {
			ok = false
			return 0
		}
		return (c - ' ') & 0x3f
	}
	for i := 1; n > 0; i += 4 {
		a, b, c, e := char(i), char(i+1), char(i+2), char(i+3)
		q := [3]byte{a<<2 | b>>4, b<<4 | c>>2, c<<6 | e}
		dst = append(dst, q[:min(n, 3)]...)
		n -= 3
	}
	return dst, ok
}

// findUUBegin finds the first begin line in t at or after from: "begin",
// an octal mode, a name, at the start of a line, followed by a line that
// is uuencoded data. It returns false if there is none.
func findUUBegin(t *text, from int) (uuBegin, bool) {
	for {
		i := t.index(from, []byte("begin "))
		if i < 0 {
			return uuBegin{}, false
		}
		from = i + 1
		if i > 0 && t.at(i-1) != '\n' {
			continue
		}
		end := lineEnd(t, i)
		name, ok := uuBeginName(bytes.TrimRight(t.slice(i, end), "\r\n"))
		if !ok || !uuDataFollows(t, end) {
			continue
		}
		return uuBegin{i, end, name}, true
	}
}

// uuBeginName reads "begin MODE NAME".
func uuBeginName(line []byte) (string, bool) {
	rest, _ := bytes.CutPrefix(line, []byte("begin "))
	mode, name, ok := bytes.Cut(bytes.TrimLeft(rest, " "), []byte(" "))
	if !ok || len(mode) < 3 || len(mode) > 4 || len(bytes.Trim(mode, "01234567")) > 0 {
		return "", false
	}
	return strings.TrimSpace(string(name)), true
}

// uuDataFollows reports whether the line at i is uuencoded data: a length
// character and about as many characters as it says, all of them ones an
// encoder writes. Prose that happens to start a line with "begin 644 x"
// is not followed by one.
func uuDataFollows(t *text, i int) bool {
	line := bytes.TrimRight(t.slice(i, lineEnd(t, i)), "\r\n")
	if len(line) == 0 || line[0] <= ' ' || line[0] > '`' {
		return false
	}
	want := 1 + (int(line[0]-' ')&0x3f+2)/3*4
	if len(line) < want-2 || len(line) > want+2 {
		return false
	}
	_, ok := appendUULine(nil, line)
	return ok
}

// decodeUU decodes the first uuencoded block in raw, for a part whose
// Content-Transfer-Encoding says it is uuencoded.
func decodeUU(raw []byte) ([]byte, string) {
	b, problem, err := uuPart(bytes.NewReader(raw), 0, int64(len(raw)))
	if err != nil || b == nil {
		return raw, problem
	}
	content, err := io.ReadAll(io.NewSectionReader(b, 0, b.size))
	if err != nil {
		return raw, "uuencode: " + err.Error()
	}
	return content, problem
}

// uuPart is the uuencoded body at [start, end) of src, ready to decode;
// nil, with a problem, when it holds no begin line.
func uuPart(src io.ReaderAt, start, end int64) (*uuBody, string, error) {
	t := textAt(io.NewSectionReader(src, start, end-start), end-start)
	begin, ok := findUUBegin(t, 0)
	if t.err != nil {
		return nil, "", t.err
	}
	if !ok {
		return nil, "uuencoded part without a begin line, saved undecoded", nil
	}
	b, problem, _, err := scanUU(src, start+int64(begin.start), end, uuWindow)
	return b, problem, err
}

// uuFiles returns the files uuencoded in the plain text body p, in order,
// numbered from n on where a block names none, with their defects, and a
// problem of the body when it holds more blocks than are taken. A body in
// base64 or quoted-printable is not looked into: old clients that
// uuencode into the text send it as it is.
func (ps *parts) uuFiles(p *enmime.Part, n int) (files []File, problem string) {
	if enc, _ := transferEncoding(p.Header.Get("Content-Transfer-Encoding")); enc != encIdentity {
		return nil, ""
	}
	src, start, end := ps.source(p)
	t := textAt(io.NewSectionReader(src, start, end-start), end-start)
	for from := 0; ; {
		begin, ok := findUUBegin(t, from)
		if !ok {
			break
		}
		if len(files) == maxUUBlocks {
			problem = fmt.Sprintf("more than %d uuencoded blocks in the text, the rest left in it", maxUUBlocks)
			break
		}
		b, damage, next, err := scanUU(src, start+int64(begin.start), end, uuWindow)
		if err != nil {
			ps.t.fail(err)
			return nil, ""
		}
		name := begin.name
		if strings.TrimSpace(name) == "" {
			name = generatedName(n+len(files), "application/octet-stream")
		}
		f := File{Name: SanitizeName(name), ContentType: typeOfName(name), Size: b.size, content: b}
		if damage != "" {
			f.Defects = []Defect{{DefectUUencode, damage}}
		}
		files = append(files, f)
		from = int(next - start)
	}
	if t.err != nil {
		ps.t.fail(t.err)
		return nil, ""
	}
	return files, problem
}

// source is where p's content lies, undecoded: in the message, for a part
// enmime did not see whole, else in the part.
func (ps *parts) source(p *enmime.Part) (src io.ReaderAt, start, end int64) {
	if s, ok := ps.elided[p]; ok {
		return ps.t.r, int64(s.start), int64(s.end)
	}
	return bytes.NewReader(p.Content), 0, int64(len(p.Content))
}

// typeOfName is the media type the extension of name stands for in the
// table generated names use (the shortest, where several types share it),
// application/octet-stream for any other: a uuencoded file declares no
// type.
func typeOfName(name string) string {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	ctype := ""
	for t, e := range extensions {
		if e == ext && (ctype == "" || len(t) < len(ctype) || len(t) == len(ctype) && t < ctype) {
			ctype = t
		}
	}
	return cmp.Or(ctype, "application/octet-stream")
}
