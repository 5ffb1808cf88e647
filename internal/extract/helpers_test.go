package extract

import (
	"io"
	"strings"
	"testing"
)

// envelope is the top-level header every built test message carries.
const envelope = "From: Sender <sender@example.com>\r\n" +
	"To: inbox@example.org\r\n" +
	"Subject: test\r\n" +
	"Date: Tue, 03 Mar 2026 09:15:00 +0100\r\n" +
	"Message-ID: <test-1@example.com>\r\n" +
	"MIME-Version: 1.0\r\n"

// part builds one MIME part from header lines and a body.
func part(body string, header ...string) string {
	return strings.Join(header, "\r\n") + "\r\n\r\n" + body
}

// multipart joins parts under a multipart header of the given subtype,
// using boundary, as a part that can itself be nested.
func multipart(subtype, boundary string, parts ...string) string {
	var b strings.Builder
	b.WriteString("Content-Type: multipart/" + subtype + "; boundary=\"" + boundary + "\"\r\n\r\n")
	for _, p := range parts {
		b.WriteString("--" + boundary + "\r\n" + p + "\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.String()
}

// mixed is a whole message: the test envelope around a multipart/mixed body.
func mixed(parts ...string) string {
	return envelope + multipart("mixed", "outer", parts...)
}

var textBody = part("Hello,\r\nplease find attached.\r\n", "Content-Type: text/plain; charset=utf-8")

// checkName fails t unless name has every property Parse promises for a
// File.Name.
func checkName(t *testing.T, name string) {
	t.Helper()
	if name == "" || name == "." || name == ".." {
		t.Errorf("name %q is empty or a dot name", name)
	}
	if strings.ContainsAny(name, "/\\\x00") {
		t.Errorf("name %q contains a separator or NUL", name)
	}
	if strings.HasPrefix(name, ".") {
		t.Errorf("name %q starts with a dot", name)
	}
	if reservedOnWindows(name) {
		t.Errorf("name %q is a reserved Windows device name", name)
	}
	if len(name) > maxNameBytes {
		t.Errorf("name %q is %d bytes, over %d", name, len(name), maxNameBytes)
	}
	if again := SanitizeName(name); again != name {
		t.Errorf("SanitizeName(%q) = %q, not idempotent", name, again)
	}
}

// contentOf reads f's content.
func contentOf(t testing.TB, f File) []byte {
	t.Helper()
	b, err := io.ReadAll(f.Open())
	if err != nil {
		t.Fatalf("reading %s: %v", f.Name, err)
	}
	return b
}
