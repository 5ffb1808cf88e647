package pop3

import (
	"bytes"
	"io"
	"testing"

	"mailtask/internal/testmail"
)

func BenchmarkRetr(b *testing.B) {
	line := append(bytes.Repeat([]byte("Lorem ipsum dolor sit amet. "), 3), "\r\n"...)
	msg := bytes.Repeat(line, 10<<20/len(line))
	srv := startServer(b, testmail.POP3Options{}, msg)
	c := login(b, srv, Options{})
	ctx := testCtx(b)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		rc, err := c.Retr(ctx, 1)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		if err != nil || n != int64(len(msg)) {
			b.Fatalf("read %d bytes, %v", n, err)
		}
	}
}
