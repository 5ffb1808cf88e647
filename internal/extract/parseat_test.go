package extract

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"

	"mailtask/internal/testmail"
)

// TestParseAtMatchesParse: a message parsed where it lies, through a small
// window, yields what parsing it in memory yields, to the last byte of
// every file.
func TestParseAtMatchesParse(t *testing.T) {
	lazy := 0
	for _, fx := range oracleCorpus() {
		want, werr := Parse(bytes.NewReader(fx.Raw))
		got, gerr := parse(windowedText(fx.Raw))
		if fmt.Sprint(werr) != fmt.Sprint(gerr) {
			t.Errorf("%s: Parse: %v, ParseAt: %v", fx.Name, werr, gerr)
			continue
		}
		if werr != nil {
			continue
		}
		if a, b := describeMessage(t, want), describeMessage(t, got); a != b {
			t.Errorf("%s: ParseAt differs:\n%s\nParse:\n%s", fx.Name, b, a)
		}
		for _, f := range got.Files {
			if _, ok := f.content.(*bytes.Reader); !ok {
				lazy++
			}
		}
	}
	if lazy < 50 {
		t.Errorf("only %d files read where they lie", lazy)
	}
}

// TestParseAtFlat: a large attachment is decoded as it is read, not held
// in memory, whether quoted-printable or a text with the odd "--" line
// (which enmime must see, and only that): parsing and reading it
// allocates a fraction of its size (about 1.4 MB, whatever the size: a
// bound of 2.5 MB for 4 MB, 4 MB for 16 MB when soaking).
func TestParseAtFlat(t *testing.T) {
	size, limit := testmail.Sample(4<<20, 16<<20), testmail.Sample(5<<19, 4<<20)
	qp, qpContent := quotedPrintableMessage(size)
	dashed, dashedContent := dashedText(size)
	for _, c := range []struct {
		name         string
		raw, content []byte
	}{
		{"quoted-printable", qp, qpContent},
		{"text with dashes", dashed, dashedContent},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := ParseAt(bytes.NewReader(c.raw), int64(len(c.raw)))
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Files) != 1 || m.Files[0].Size != int64(len(c.content)) {
			t.Fatalf("%s: files %+v, want one of %d bytes", c.name, m.Files, len(c.content))
		}
		h := sha256.New()
		if _, err := io.Copy(h, m.Files[0].Open()); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if got, want := h.Sum(nil), sha256.Sum256(c.content); !bytes.Equal(got, want[:]) {
			t.Fatalf("%s: the attachment read from the message differs from its content", c.name)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(limit) {
			t.Errorf("%s: parsing and reading a %d MB attachment allocated %d MB; it should not grow with the attachment", c.name, len(c.content)>>20, alloc>>20)
		}
	}
}

// TestParseBytesDecodesBase64AsRead: a message in memory with a large
// base64 attachment is not decoded into a copy of its own: parsing it and
// reading the attachment allocates a fraction of its size.
func TestParseBytesDecodesBase64AsRead(t *testing.T) {
	content := make([]byte, 4<<20)
	for i := range content {
		content[i] = byte(i * 7 % 251)
	}
	raw := testmail.NewMessage("large", testmail.Attachment{Name: "large.bin", Content: content})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := ParseBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 1 || m.Files[0].Size != int64(len(content)) {
		t.Fatalf("files %+v, want one of %d bytes", m.Files, len(content))
	}
	h := sha256.New()
	if _, err := io.Copy(h, m.Files[0].Open()); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got, want := h.Sum(nil), sha256.Sum256(content); !bytes.Equal(got, want[:]) {
		t.Fatal("the attachment read from the message differs from its content")
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("parsing and reading a 4 MB attachment in memory allocated %d KB; it should not be decoded into a copy", alloc>>10)
	}
}

// Reading the file of a body in memory whose end takes the slow way (the
// padding of a size not a multiple of 3) took two 64 KB windows from a
// pool that every collection empties: for a run of 500 messages, 30-40 ms
// of allocating and zeroing them anew. It needs a few bytes.
func TestParseBytesReadsPaddedBodyWithoutWindows(t *testing.T) {
	content := make([]byte, 200<<10+2)
	for i := range content {
		content[i] = byte(i * 7 % 251)
	}
	raw := testmail.NewMessage("padded", testmail.Attachment{Name: "padded.bin", Content: content})
	m, err := ParseBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 1 || m.Files[0].Size != int64(len(content)) {
		t.Fatalf("files %+v, want one of %d bytes", m.Files, len(content))
	}
	buf := make([]byte, 64<<10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC() // the pool's victims too
	runtime.ReadMemStats(&before)
	got := sha256.New()
	if _, err := io.CopyBuffer(got, m.Files[0].Open(), buf); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if want := sha256.Sum256(content); !bytes.Equal(got.Sum(nil), want[:]) {
		t.Fatal("the attachment read from the message differs from its content")
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc >= windowSize {
		t.Errorf("reading a padded body in memory allocated %d KB, want less than a window (%d KB)", alloc>>10, windowSize>>10)
	}
}

// dashedText is a message with a plain text attachment of about size
// bytes with a "-- " line every 20 KB, and that content.
func dashedText(size int) (raw, content []byte) {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "entry %d: %s\r\n", i, strings.Repeat("log text ", i%9))
		if i%400 == 399 {
			b.WriteString("-- \r\n")
		}
	}
	content = b.Bytes()
	raw = []byte(envelope + "Content-Type: multipart/mixed; boundary=\"TX\"\r\n\r\n" +
		"--TX\r\nContent-Type: text/plain\r\n\r\nthe log\r\n" +
		"--TX\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=app.log\r\n\r\n" +
		string(content) + "\r\n--TX--\r\n")
	return raw, content
}

// describeMessage is everything of m a caller can see.
func describeMessage(t *testing.T, m *Message) string {
	files := m.Files
	m.Files = nil
	s := fmt.Sprintf("%+v\n", *m)
	m.Files = files
	for _, f := range files {
		s += fmt.Sprintf("%q %q inline=%v size=%d type=%q %x\n", f.Name, f.ContentType, f.Inline, f.Size, f.Type(), contentOf(t, f))
	}
	return s
}

// TestParseAtReadError: a message that cannot be read is an error to retry,
// not an unparseable message to quarantine; a file that can no longer be
// read fails to read, it does not come out short.
func TestParseAtReadError(t *testing.T) {
	content := bytes.Repeat([]byte("%PDF-1.4 large\n"), 200<<10/15)
	raw := testmail.NewMessage("large", testmail.Attachment{Name: "large.pdf", ContentType: "application/pdf", Content: content})
	if _, err := ParseAt(bytes.NewReader(raw), int64(len(raw))+100); err == nil || errors.Is(err, ErrUnparseable) {
		t.Errorf("ParseAt of a message shorter than its size: %v, want a read error", err)
	}

	src := &closable{r: bytes.NewReader(raw)}
	m, err := ParseAt(src, int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 1 || m.Files[0].Size != int64(len(content)) || !bytes.Equal(contentOf(t, m.Files[0]), content) {
		t.Fatalf("files %+v, want large.pdf of %d bytes", m.Files, len(content))
	}
	src.closed = true
	if _, err := io.ReadAll(m.Files[0].Open()); !errors.Is(err, os.ErrClosed) {
		t.Errorf("reading a file of a closed message: %v, want %v", err, os.ErrClosed)
	}
}

type closable struct {
	r      io.ReaderAt
	closed bool
}

func (c *closable) ReadAt(p []byte, off int64) (int, error) {
	if c.closed {
		return 0, os.ErrClosed
	}
	return c.r.ReadAt(p, off)
}
