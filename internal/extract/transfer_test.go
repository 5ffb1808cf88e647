package extract

import (
	"bytes"
	"encoding/base64"
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
	})
}

func BenchmarkDecodeBase64(b *testing.B) {
	content := bytes.Repeat([]byte("%PDF-1.4 benchmark payload \x00\x01\x02\xff\n"), 1<<20/32)
	encoded := base64.StdEncoding.EncodeToString(content)
	var body strings.Builder
	for len(encoded) > 76 {
		body.WriteString(encoded[:76] + "\r\n")
		encoded = encoded[76:]
	}
	body.WriteString(encoded + "\r\n")
	raw := []byte(body.String())
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if got, _ := decodeBase64(raw); len(got) != len(content) {
			b.Fatal("wrong length")
		}
	}
}
