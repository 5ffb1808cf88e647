package pop3

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// stuff is the sender's side of RFC 1939 dot-stuffing, written apart from
// the test server's so that two readings of the RFC are checked against
// each other.
func stuff(msg []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(msg, []byte("\r\n")) {
		if len(line) == 0 {
			continue
		}
		if line[0] == '.' {
			out.WriteByte('.')
		}
		out.Write(line)
	}
	if len(msg) > 0 && !bytes.HasSuffix(msg, []byte("\r\n")) {
		out.WriteString("\r\n")
	}
	out.WriteString(".\r\n")
	return out.Bytes()
}

// delivered is what a POP3 client must yield for msg: the wire cannot end
// a body without CRLF, so servers add one.
func delivered(msg []byte) []byte {
	if len(msg) > 0 && !bytes.HasSuffix(msg, []byte("\r\n")) {
		return append(bytes.Clone(msg), "\r\n"...)
	}
	return msg
}

// readers stacks a dotReader on r as a Client does, with a buffer of
// size bytes.
func readers(r io.Reader, size int) (*dotReader, *bufio.Reader) {
	src := &unread{r: r}
	br := bufio.NewReaderSize(src, size)
	return newDotReader(br, src), br
}

func unstuff(t testing.TB, wire []byte, wrap func(io.Reader) io.Reader) ([]byte, []byte) {
	t.Helper()
	d, br := readers(wrap(bytes.NewReader(wire)), 16)
	got, err := io.ReadAll(d)
	if err != nil {
		t.Fatalf("reading %q: %v", wire, err)
	}
	rest, _ := io.ReadAll(br)
	return got, rest
}

func TestDotReader(t *testing.T) {
	cases := map[string]struct{ wire, want string }{
		"empty":              {".\r\n", ""},
		"one line":           {"a\r\n.\r\n", "a\r\n"},
		"stuffed dot":        {"..\r\n.\r\n", ".\r\n"},
		"stuffed double":     {"...x\r\n.\r\n", "..x\r\n"},
		"dot text":           {"a\r\n..b\r\n.\r\n", "a\r\n.b\r\n"},
		"unstuffed dot text": {".b\r\n.\r\n", "b\r\n"},
		"bare LF is data":    {"a\n.\nb\r\n.\r\n", "a\n.\nb\r\n"},
		"CR then LF":         {"a\r\r\n.\r\n", "a\r\r\n"},
		"dot CR alone":       {".\rx\r\n.\r\n", "\rx\r\n"},
		"blank lines":        {"\r\n\r\n.\r\n", "\r\n\r\n"},
	}
	for name, tc := range cases {
		for wrapName, wrap := range map[string]func(io.Reader) io.Reader{
			"whole": func(r io.Reader) io.Reader { return r }, "bytewise": iotest.OneByteReader,
		} {
			t.Run(name+"/"+wrapName, func(t *testing.T) {
				got, rest := unstuff(t, []byte(tc.wire+"+OK next"), wrap)
				if string(got) != tc.want {
					t.Errorf("got %q, want %q", got, tc.want)
				}
				if string(rest) != "+OK next" {
					t.Errorf("reader consumed past the terminator: left %q", rest)
				}
			})
		}
	}
}

func TestDotReaderTruncated(t *testing.T) {
	for _, wire := range []string{"", "abc", "abc\r\n", "abc\r\n.", "abc\r\n.\r", "abc\r\n..\r\n"} {
		d, _ := readers(strings.NewReader(wire), 16)
		_, err := io.ReadAll(d)
		if err != io.ErrUnexpectedEOF {
			t.Errorf("%q: got %v, want io.ErrUnexpectedEOF", wire, err)
		}
	}
}

// TestDotReaderLongLine checks that a line far longer than the buffer
// streams through without being assembled.
func TestDotReaderLongLine(t *testing.T) {
	line := bytes.Repeat([]byte("x"), 1<<20)
	msg := append(append([]byte(".start"), line...), "\r\n"...)
	r, _ := readers(bytes.NewReader(stuff(msg)), 4096)
	if got := readWith(t, r, make([]byte, 1000)); !bytes.Equal(got, msg) {
		t.Fatalf("got %d bytes, want %d, equal prefix %v", len(got), len(msg), bytes.HasPrefix(msg, got))
	}
}

// readWith reads r to its end through buf, as a spool does.
func readWith(t testing.TB, r io.Reader, buf []byte) []byte {
	t.Helper()
	var got bytes.Buffer
	for {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			return got.Bytes()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzDotReader(f *testing.F) {
	for _, s := range []string{"", ".", "..", ".\r\n", "a\r\n.\r\nb", "\r\n..\r\n", "x\n.\n", "\r", "a\r\r\n.", "\xff\x00.\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r }, iotest.OneByteReader, iotest.HalfReader,
		} {
			got, rest := unstuff(t, append(stuff(msg), "NEXT"...), wrap)
			if want := delivered(msg); !bytes.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			if string(rest) != "NEXT" {
				t.Fatalf("left %q after the body, want NEXT", rest)
			}
		}
	})
}

// chunks returns what r reads in pieces of random sizes, as a TLS
// connection does, so that the body's end and its dots fall anywhere in
// a read.
type chunks struct {
	r   io.Reader
	rnd *rand.Rand
}

func (c chunks) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), 1+c.rnd.IntN(40))])
}

// Bodies read straight into the caller's buffer: dots, CRs and LFs
// crowded together, read in pieces of every size, come out as the
// sender's, and what follows the body is left for the next reply.
func TestDotReaderReadsDirectInPieces(t *testing.T) {
	rnd := rand.New(rand.NewPCG(22, 2))
	alphabet := []byte(".\r\nab")
	for range 3000 {
		msg := make([]byte, rnd.IntN(300))
		for i := range msg {
			msg[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		d, br := readers(chunks{bytes.NewReader(append(stuff(msg), "+OK next\r\n"...)), rnd}, 16)
		got := readWith(t, d, make([]byte, directRead+rnd.IntN(100)))
		if want := delivered(msg); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %q, want %q", msg, got, want)
		}
		if rest, _ := io.ReadAll(br); string(rest) != "+OK next\r\n" {
			t.Fatalf("%q: left %q after the body", msg, rest)
		}
	}
}

// into records whether r was read straight into dst.
type into struct {
	r      io.Reader
	dst    []byte
	direct int
}

func (i *into) Read(p []byte) (int, error) {
	if len(p) > 0 && &p[0] == &i.dst[0] {
		i.direct++
	}
	return i.r.Read(p)
}

// A large body is read from the connection into the caller's buffer, not
// copied there out of the Client's: that copy cost a twentieth of a run's
// CPU.
func TestDotReaderReadsLargeBodiesIntoTheCallersBuffer(t *testing.T) {
	msg := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n"), 4096)
	buf := make([]byte, 64<<10)
	src := &into{r: bytes.NewReader(stuff(msg)), dst: buf}
	d, _ := readers(src, 64<<10)
	if got := readWith(t, d, buf); !bytes.Equal(got, msg) {
		t.Fatalf("got %d bytes, want %d", len(got), len(msg))
	}
	if src.direct < 3 {
		t.Errorf("%d of the reads of a body of %d bytes went into the caller's buffer, want at least 3", src.direct, len(msg))
	}
}
