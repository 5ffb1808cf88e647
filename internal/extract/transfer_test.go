package extract

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestDecodeBase64(t *testing.T) {
	for _, c := range []struct {
		in, want, problem string
	}{
		{"SGVsbG8s\r\nIHdvcmxk\r\n", "Hello, world", ""},
		{"SGVsbG8sIHdvcmxkIQ==\r\n", "Hello, world!", ""},
		{"SGVsbG8sIHdvcmxkIQ", "Hello, world!", ""},     // padding missing
		{"SGVs bG8s\tIHdv\r\ncmxk", "Hello, world", ""}, // white space
		{"QQ==QQ==", "A\x04\x10", ""},                   // padding in the middle
		{"SGVs*bG8s", "Hello,", "1 characters that are not base64 skipped"},
		{"SGVsb", "Hel", "base64 truncated, last byte lost"},
		{"QUJDREVGR0hJ\r\nSk*tMTU5P", "ABCDEFGHIJKLMNO", "1 characters that are not base64 skipped"}, // damage after whole quanta
		{"", "", ""},
	} {
		got, problem := decodeBase64([]byte(c.in))
		if string(got) != c.want || problem != c.problem {
			t.Errorf("decodeBase64(%q) = %q, %q; want %q, %q", c.in, got, problem, c.want, c.problem)
		}
	}
}

// FuzzDecodeBase64 holds the fast path of decodeBase64 to exactly what the
// lenient decoder makes of the same input.
func FuzzDecodeBase64(f *testing.F) {
	for _, s := range []string{
		"SGVsbG8s\r\nIHdvcmxk\r\n", "QQ==", "QR==", "QQ==QQ==", "QQ", "Q", "Q===", "=", "\r\n",
		"SGVs*bG8s", " SGVs\tbG8s ", "QUJD\nREVG\n", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n",
		base64.StdEncoding.EncodeToString([]byte(strings.Repeat("payload\x00\xff", 40))),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fast, fastProblem := decodeBase64(raw)
		slow, slowProblem := decodeBase64Lenient(raw)
		if !bytes.Equal(fast, slow) || fastProblem != slowProblem {
			t.Errorf("decodeBase64(%q) = %q, %q; lenient decoder %q, %q", raw, fast, fastProblem, slow, slowProblem)
		}
		checkBase64Body(t, raw, fast, fastProblem)
	})
}

// checkReadAt fails t unless r, holding want, reads at off the (up to) n
// bytes of want there. Offsets outside want are not checked.
func checkReadAt(t *testing.T, r io.ReaderAt, want []byte, off, n int64) {
	t.Helper()
	if off < 0 || off >= int64(len(want)) {
		return
	}
	p := make([]byte, min(n, int64(len(want))-off))
	if k, err := r.ReadAt(p, off); k != len(p) || (err != nil && err != io.EOF) || !bytes.Equal(p, want[off:off+int64(k)]) {
		t.Fatalf("ReadAt(%d) = %q, %v; want %q", off, p[:k], err, want[off:off+int64(len(p))])
	}
}

// checkBase64Body fails t unless the streaming decoder makes of raw what
// decodeBase64 made of it: want and problem, read whole and from every
// offset up to a few past a mark.
// The body is read from a message on disk (through windows) and in memory
// (in place).
func checkBase64Body(t *testing.T, raw, want []byte, problem string) {
	t.Helper()
	for _, src := range []io.ReaderAt{bytes.NewReader(raw), inMemory(raw)} {
		b, gotProblem, err := scanBase64(src, 0, int64(len(raw)))
		if err != nil {
			t.Fatal(err)
		}
		f := File{Name: "x", Size: b.size, content: b}
		got, err := io.ReadAll(f.Open())
		if err != nil || !bytes.Equal(got, want) || gotProblem != problem {
			t.Fatalf("streamed %q from %T: %q, %q, %v; decodeBase64 %q, %q", raw, src, got, gotProblem, err, want, problem)
		}
		for _, off := range []int64{0, 1, 2, 3, markDecoded - 1, markDecoded, markDecoded + 1, 3*markDecoded + 2, f.Size - 1} {
			checkReadAt(t, b, want, off, 5)
		}
	}
}

// TestBase64BodyLarge reads a body of many marks, with defects, at offsets
// around them.
func TestBase64BodyLarge(t *testing.T) {
	content := make([]byte, 5*markDecoded+7)
	for i := range content {
		content[i] = byte(i * 7 % 251)
	}
	encoded := base64.StdEncoding.EncodeToString(content)
	var raw bytes.Buffer
	for i := 0; len(encoded) > 0; i++ {
		line := encoded[:min(76, len(encoded))]
		encoded = encoded[len(line):]
		raw.WriteString(line + "\r\n")
		if i%997 == 0 {
			raw.WriteString("*") // a stray character now and then
		}
	}
	want, problem := decodeBase64(raw.Bytes())
	if !strings.Contains(problem, "not base64") {
		t.Fatalf("problem %q, want the stray characters reported", problem)
	}
	checkBase64Body(t, raw.Bytes(), want, problem)
}

// benchBase64 is size bytes of binary content and the body that carries
// it in base64 as mail does, in lines of 76 characters.
func benchBase64(size int) (content, body []byte) {
	content = bytes.Repeat([]byte("%PDF-1.4 benchmark payload \x00\x01\x02\xff\n"), size/32)
	encoded := base64.StdEncoding.EncodeToString(content)
	var lines strings.Builder
	for len(encoded) > 76 {
		lines.WriteString(encoded[:76] + "\r\n")
		encoded = encoded[76:]
	}
	lines.WriteString(encoded + "\r\n")
	return content, []byte(lines.String())
}

func BenchmarkDecodeBase64(b *testing.B) {
	content, raw := benchBase64(1 << 20)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if got, _ := decodeBase64(raw); len(got) != len(content) {
			b.Fatal("wrong length")
		}
	}
}

func TestDecodeQuotedPrintable(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a=3Db  \r\nsoft=\r\nbreak =C3=A9\r\n", "a=b\r\nsoftbreak \xc3\xa9\r\n"},
		{"100% =ZZ =\r\n=4", "100% =ZZ =4"}, // bad escapes kept
		{"pad \t \nend\t", "pad\nend"},      // padding before LF and at the end
		{"soft= \t\r\nbreak", "softbreak"},  // blanks after a soft break's '='
		{"a \rb \r", "a \rb \r"},            // a lone CR ends no line
		{"abc==\r\n=\r\r\n", "abc==\r\r\n"}, // '=' before a soft break; CR CR LF
		{"tail=", "tail"},                   // soft break at the end
		{"=41=4=\r\n1 =4 1", "A=41 =4 1"},   // escapes cut short stay as they are
		{"", ""},
	} {
		if got := decodeQuotedPrintable([]byte(c.in)); string(got) != c.want {
			t.Errorf("decodeQuotedPrintable(%q) = %q, want %q", c.in, got, c.want)
		}
		checkQPBody(t, []byte(c.in))
	}
}

// FuzzDecodeQuotedPrintable holds the streaming decoder, read whole and
// from offsets around its marks, to decodeQuotedPrintable.
func FuzzDecodeQuotedPrintable(f *testing.F) {
	for _, s := range []string{
		"a=3Db  \r\nsoft=\r\nbreak =C3=A9\r\n", "100% =ZZ =\r\n=4", "pad \t \nend\t", "soft= \t\r\nbreak",
		"a \rb \r", "abc==\r\n=\r\r\n", "tail=", "=41=4=\r\n1 =4 1", "=", " ", "\r", "=\r", "= \r\n",
		strings.Repeat("Gr=FC=DFe, Stra=DFe    \r\n", 20) + strings.Repeat(" ", 300) + "=",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkQPBody(t, raw)
	})
}

// checkQPBody fails t unless the streaming decoder, with marks and windows
// small enough for raw to span several, makes of raw what
// decodeQuotedPrintable makes of it, read whole and from every offset.
func checkQPBody(t *testing.T, raw []byte) {
	t.Helper()
	want := decodeQuotedPrintable(raw)
	b, err := scanQP(bytes.NewReader(raw), 0, int64(len(raw)), 7, 5)
	if err != nil {
		t.Fatal(err)
	}
	f := File{Name: "x", Size: b.size, content: b}
	got, err := io.ReadAll(f.Open())
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("streamed %q: %q, %v; decodeQuotedPrintable %q", raw, got, err, want)
	}
	for off := range f.Size {
		checkReadAt(t, b, want, off, 3)
	}
}

// TestQPBodyLarge: a body of many marks, with long runs of white space
// across windows, read at offsets around the marks.
func TestQPBodyLarge(t *testing.T) {
	var raw bytes.Buffer
	for i := 0; raw.Len() < 3*qpMarkEvery; i++ {
		fmt.Fprintf(&raw, "line %d =C3=A9 caf=C3=A9%s\r\n", i, strings.Repeat(" ", i%3))
		if i%500 == 0 {
			raw.WriteString(strings.Repeat(" \t", qpWindow) + "x=\r\n") // blanks kept: the line goes on
			raw.WriteString(strings.Repeat(" ", qpWindow+3) + "\r\n")   // blanks dropped: the line ends
		}
	}
	want := decodeQuotedPrintable(raw.Bytes())
	b, err := scanQuotedPrintable(bytes.NewReader(raw.Bytes()), 0, int64(raw.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.marks) < 3 {
		t.Fatalf("%d marks; the test reads around at least 3", len(b.marks))
	}
	got, err := io.ReadAll(File{Name: "x", Size: b.size, content: b}.Open())
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("streamed %d bytes, %v; decodeQuotedPrintable %d bytes", len(got), err, len(want))
	}
	for _, m := range b.marks {
		for _, off := range []int64{m.out - 1, m.out, m.out + 1} {
			checkReadAt(t, b, want, off, 9)
		}
	}
}

func BenchmarkScanBase64(b *testing.B) {
	content, body := benchBase64(4 << 20)
	raw := inMemory(body)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if s, _, err := scanBase64(raw, 0, int64(len(raw))); err != nil || s.size != int64(len(content)) {
			b.Fatal("wrong size", err)
		}
	}
}

func BenchmarkReadBase64Body(b *testing.B) {
	content, body := benchBase64(4 << 20)
	raw := inMemory(body)
	s, _, err := scanBase64(raw, 0, int64(len(raw)))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		f := File{Size: s.size, content: s}
		if n, err := io.CopyBuffer(io.Discard, f.Open(), buf); err != nil || n != int64(len(content)) {
			b.Fatal("wrong size", n, err)
		}
	}
}
