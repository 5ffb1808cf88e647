package pop3

import (
	"bufio"
	"bytes"
	"io"
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

func unstuff(t testing.TB, wire []byte, wrap func(io.Reader) io.Reader) ([]byte, []byte) {
	t.Helper()
	br := bufio.NewReaderSize(wrap(bytes.NewReader(wire)), 16)
	got, err := io.ReadAll(newDotReader(br))
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
		_, err := io.ReadAll(newDotReader(bufio.NewReader(strings.NewReader(wire))))
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
	br := bufio.NewReaderSize(bytes.NewReader(stuff(msg)), 4096)
	r := newDotReader(br)
	buf := make([]byte, 1000)
	var got bytes.Buffer
	for {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), msg) {
		t.Fatalf("got %d bytes, want %d, equal prefix %v", got.Len(), len(msg), bytes.HasPrefix(msg, got.Bytes()))
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
