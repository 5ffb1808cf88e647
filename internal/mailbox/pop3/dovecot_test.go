package pop3

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"

	"mailtask/internal/testmail/dovecot"
)

// crlf is what Dovecot serves for a stored message: it ends every line
// with CRLF, whatever the file has, so a bare LF comes back as CRLF.
func crlf(msg []byte) []byte {
	msg = bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(msg, []byte("\n"), []byte("\r\n"))
}

// TestDovecotRetrByteExact checks the client against a real server over
// POP3S: what RETR yields is the stored message, byte for byte, as the
// server defines it.
func TestDovecotRetrByteExact(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	msgs := map[string][]byte{
		"leading dots":  []byte("Subject: dots\r\n\r\n.hidden\r\n.\r\nafter a lone dot\r\n..two\r\n. space\r\n"),
		"100 KiB line":  []byte("Subject: long\r\n\r\n" + strings.Repeat("0123456789abcdef", 100<<10/16) + "\r\n"),
		"8-bit":         eightBit(),
		"bare LF":       []byte("Subject: lf\n\nline\n.\n..\nend\n"),
		"no final CRLF": []byte("Subject: x\r\n\r\nlast line"),
	}
	var names []string
	var raws [][]byte
	for name, m := range msgs {
		names = append(names, name)
		raws = append(raws, m)
	}
	d.Seed(t, d.User, "INBOX", raws...)

	ctx := testCtx(t)
	c, err := Dial(ctx, d.POP3SAddr, Options{TLS: d.CA.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, d.User, d.Password); err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		got := reader(t)(c.Retr(ctx, i+1))
		want := delivered(crlf(raws[i]))
		if sha256.Sum256(got) != sha256.Sum256(want) {
			t.Errorf("%s: RETR gave %d bytes %.80q…, want %d bytes %.80q…", name, len(got), got, len(want), want)
		}
	}
	if err := c.Quit(ctx); err != nil {
		t.Errorf("QUIT: %v", err)
	}
}
