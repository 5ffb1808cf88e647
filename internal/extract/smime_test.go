package extract

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"mailtask/internal/testmail"
)

// signer is a key and self-signed certificate made by openssl for the
// tests that sign messages.
var signer struct {
	once           sync.Once
	dir, key, cert string
	err            error
}

// opensslSign signs content with openssl as senders do: "smime" writes
// DER in base64 inside a MIME header, "cms-stream" BER with indefinite
// lengths and the content in chunks (what a streaming signer writes).
func opensslSign(t *testing.T, content []byte, how string) []byte {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is not installed (apt-get install openssl); CI must not skip this")
		}
		t.Skip("openssl is not installed")
	}
	signer.once.Do(func() {
		signer.dir, signer.err = os.MkdirTemp("", "mailtask-smime-")
		if signer.err != nil {
			return
		}
		signer.key, signer.cert = filepath.Join(signer.dir, "key.pem"), filepath.Join(signer.dir, "cert.pem")
		out, err := exec.Command(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", signer.key, "-out", signer.cert,
			"-days", "30", "-subj", "/CN=mailtask test signer").CombinedOutput()
		if err != nil {
			signer.err = &exec.ExitError{Stderr: out}
		}
	})
	if signer.err != nil {
		t.Fatalf("making a signer: %v", signer.err)
	}
	in := filepath.Join(t.TempDir(), "content")
	if err := os.WriteFile(in, content, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"smime", "-sign", "-nodetach", "-binary", "-in", in, "-signer", signer.cert, "-inkey", signer.key}
	if how == "cms-stream" {
		args = []string{"cms", "-sign", "-nodetach", "-binary", "-stream", "-outform", "DER", "-in", in, "-signer", signer.cert, "-inkey", signer.key}
	}
	out, err := exec.Command(openssl, args...).Output()
	if err != nil {
		t.Fatalf("openssl %s: %v", how, err)
	}
	return out
}

// signedInner is a message body as a sender signs it: a text and a PDF.
func signedInner(pdf []byte) []byte {
	return []byte(multipart("mixed", "in", part("The signed invoice is attached.\r\n", "Content-Type: text/plain"),
		part(string(base64Lines(pdf)), "Content-Type: application/pdf; name=invoice.pdf", "Content-Disposition: attachment; filename=invoice.pdf", "Content-Transfer-Encoding: base64")))
}

// p7mPart is a DER envelope as the part of a message, or the message.
func p7mPart(der []byte, name string) string {
	return part(string(base64Lines(der)),
		`Content-Type: application/pkcs7-mime; smime-type=signed-data; name="`+name+`"`,
		`Content-Disposition: attachment; filename="`+name+`"`, "Content-Transfer-Encoding: base64")
}

// An opaque signed message is the message inside its envelope: its files
// and body, the files marked as from inside a signature not checked.
func TestOpaqueSignedMessage(t *testing.T) {
	fixture := testmail.OpaqueSigned()
	cases := map[string]struct {
		raw []byte
		pdf []byte
	}{"committed fixture (DER)": {fixture, []byte("%PDF-1.4\n% signed invoice 4711\n")}}
	pdf := append([]byte("%PDF-1.4\n"), randomContent(20, 300<<10)...)
	cases["openssl smime"] = struct{ raw, pdf []byte }{append([]byte(strings.TrimSuffix(envelope, "MIME-Version: 1.0\r\n")), opensslSign(t, signedInner(pdf), "smime")...), pdf}
	cases["BER, streamed in chunks"] = struct{ raw, pdf []byte }{[]byte(envelope + p7mPart(opensslSign(t, signedInner(pdf), "cms-stream"), "smime.p7m")), pdf}
	for name, c := range cases {
		for _, m := range parseBoth(t, c.raw) {
			if got := fileNames(m); !slices.Equal(got, []string{"invoice-4711.pdf"}) && !slices.Equal(got, []string{"invoice.pdf"}) {
				t.Fatalf("%s: files %q (problems %q)", name, got, m.Problems)
			}
			f := m.Files[0]
			if !bytes.Equal(contentOf(t, f), c.pdf) || f.Signature != SignatureUnchecked || f.Type() != "application/pdf" {
				t.Errorf("%s: %s: %d bytes, signature %q", name, f.Name, f.Size, f.Signature)
			}
			if !strings.Contains(m.Text, "signed invoice is attached") || m.Subject == "" {
				t.Errorf("%s: text %q, subject %q", name, m.Text, m.Subject)
			}
		}
	}
}

// An attached .p7m holding a message is like an attached message: kept
// whole with nested = "eml", its files taken with "extract". A .p7m
// holding a signed document, a detached signature, and a damaged envelope
// stay as they are.
func TestAttachedSignedMessage(t *testing.T) {
	pdf := append([]byte("%PDF-1.4\n"), randomContent(21, 2000)...)
	signedMsg := append([]byte("Subject: forwarded\r\n"), signedInner(pdf)...)
	der := opensslSign(t, signedMsg, "cms-stream")
	doc := opensslSign(t, []byte("%PDF-1.4\nnot a message, a signed document\n"), "cms-stream")
	raw := mixed(textBody,
		p7mPart(der, "forwarded.p7m"),
		p7mPart(doc, "contract.pdf.p7m"),
		p7mPart(der[:len(der)/2], "cut.p7m"),
		part("c2lnbmF0dXJl", "Content-Type: application/pkcs7-signature; name=smime.p7s", "Content-Transfer-Encoding: base64"))
	for _, m := range parseBoth(t, []byte(raw)) {
		if got, want := fileNames(m), []string{"forwarded.p7m", "contract.pdf.p7m", "cut.p7m", "smime.p7s"}; !slices.Equal(got, want) {
			t.Fatalf("files %q, want %q", got, want)
		}
		m.ExpandNested(false)
		if got, want := fileNames(m), []string{"invoice.pdf", "contract.pdf.p7m", "cut.p7m", "smime.p7s"}; !slices.Equal(got, want) {
			t.Fatalf("expanded: files %q, want %q", got, want)
		}
		if f := m.Files[0]; !bytes.Equal(contentOf(t, f), pdf) || f.Signature != SignatureUnchecked {
			t.Errorf("invoice.pdf: %d bytes, signature %q", f.Size, f.Signature)
		}
		for _, f := range m.Files[1:] {
			if f.Signature != "" {
				t.Errorf("%s: signature %q", f.Name, f.Signature)
			}
		}
	}
}

// FuzzSignedContent: any envelope is read without panic, and what is
// found of its content lies inside it, in a bounded number of pieces.
func FuzzSignedContent(f *testing.F) {
	fixture := testmail.OpaqueSigned()
	m, err := Parse(bytes.NewReader(fixture))
	if err != nil || len(m.Files) != 1 {
		f.Fatalf("fixture: %v", err)
	}
	// The envelope itself, decoded: the fixture's only file is inside it,
	// so take the part's body again.
	body := fixture[bytes.Index(fixture, []byte("\r\n\r\n"))+4:]
	der, _ := decodeBase64(body)
	f.Add(der)
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x30, 0x80, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, env []byte) {
		ch, err := signedContent(bytes.NewReader(env), int64(len(env)))
		if err != nil {
			return
		}
		if len(ch.spans) > maxCMSChunks {
			t.Fatalf("%d pieces", len(ch.spans))
		}
		for _, s := range ch.spans {
			if s.off < 0 || s.n < 0 || s.off+s.n > int64(len(env)) {
				t.Fatalf("piece %+v outside an envelope of %d bytes", s, len(env))
			}
		}
		got := make([]byte, ch.size)
		if n, err := ch.ReadAt(got, 0); int64(n) != ch.size || (err != nil && err.Error() != "EOF") {
			t.Fatalf("read %d of %d: %v", n, ch.size, err)
		}
		for off := range ch.size {
			checkReadAt(t, ch, got, off, 3)
		}
	})
}

// Content that lies in pieces a few bytes apart (an S/MIME envelope's
// chunks in a large base64 body) is decoded once, front to back, not
// again from a mark for every piece.
func TestPiecesDecodeOnce(t *testing.T) {
	content := randomContent(30, 5*markDecoded)
	raw := base64Lines(content)
	b, _, err := scanBase64(bytes.NewReader(raw), 0, int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	starts := 0
	decoder := b.decoder
	b.decoder = func(off int64) (io.Reader, int64) { starts++; return decoder(off) }
	p := make([]byte, 4096)
	for off := int64(0); off+4096 <= b.size; off += 4096 + 4 {
		if n, err := b.ReadAt(p, off); n != len(p) || err != nil || !bytes.Equal(p, content[off:off+4096]) {
			t.Fatalf("ReadAt(%d) = %d, %v", off, n, err)
		}
	}
	if starts != 1 {
		t.Errorf("decoding started %d times, want once", starts)
	}
}
