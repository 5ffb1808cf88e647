package testmail

import (
	"bytes"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"mailtask/internal/mailgen"
)

// HostileNames returns attachment file names an attacker might send, as
// the extractor sees them after decoding: path traversal in Unix and
// Windows spelling, absolute and UNC paths, drive letters, NUL and other
// control characters, reserved Windows device names, dot files, names that
// normalise into "../", bidirectional overrides, an overlong name, and one
// RFC 2047 encoded word that decodes to "../../etc/passwd".
func HostileNames() []string {
	return []string{
		"../../etc/passwd",
		"/etc/passwd",
		`..\..\windows\system32\x.dll`,
		`C:\x.pdf`,
		"C:x.pdf",
		`\\server\share\x.pdf`,
		"a/b/c.pdf",
		"~/.ssh/authorized_keys",
		"....//....//etc/passwd",
		"a\x00b.pdf",
		"line\nbreak.pdf",
		"carriage\rreturn.pdf",
		"tab\there.pdf",
		"bell\a.pdf",
		"con.txt",
		"CON",
		"COM1.pdf",
		"LPT9",
		"nul",
		"aux.tar.gz",
		"trailing dot.",
		"trailing space.pdf ",
		"file.pdf:stream",
		".bashrc",
		"..",
		".",
		"",
		"   ",
		"invoice\u202Efdp.exe",
		"..\u2215..\u2215etc\u2215passwd",
		"\uff0e\uff0e\uff0fx.pdf",
		"%2e%2e%2fetc%2fpasswd",
		strings.Repeat("a", 296) + ".pdf",
		strings.Repeat("ä", 150) + ".pdf",
		"=?UTF-8?B?Li4vLi4vZXRjL3Bhc3N3ZA==?=",
	}
}

// HostileMessage builds a message with one attachment per hostile name,
// named with filename= (RFC 2231 filename*= where a quoted string cannot
// carry the name); every third name comes again as filename*= and every
// third, shifted by one, as Content-Type name= only. Each attachment's
// content says which name and spelling it carries.
func HostileMessage() []byte {
	parts := []mailgen.Entity{mailgen.TextPart("Hostile attachment names follow.\n")}
	add := func(i int, spelling string, style mailgen.NameStyle, name string) {
		content := fmt.Sprintf("hostile name %d as %s\n%q\n", i, spelling, name)
		parts = append(parts, mailgen.AttachmentPart(Attachment{Name: name, ContentType: "application/octet-stream", Content: []byte(content)}, style))
	}
	for i, name := range HostileNames() {
		add(i, "filename", mailgen.NamePlain, name)
		switch i % 3 {
		case 1:
			add(i, "filename*", mailgen.Name2231, name)
		case 2:
			add(i, "name", mailgen.NameTypeOnly, name)
		}
	}
	return mailgen.Envelope{
		From:    mail.Address{Name: "Mallory", Address: "mallory@attacker.example"},
		To:      mail.Address{Address: "inbox@example.test"},
		Subject: "Hostile attachment names",
		Date:    time.Date(2025, 3, 14, 3, 14, 15, 0, time.UTC),
		ID:      "hostile-names@attacker.example",
	}.Message(mailgen.Multipart("mixed", parts...))
}

// MalformedCorpus returns messages broken the ways real mailboxes hold
// them: no closing boundary, broken base64, a wrong charset label, a
// header without a body, 10,000 tiny parts, multiparts nested 100 deep, a
// 1 MB header line, bare LF line endings, a multipart without a boundary
// parameter and a part header with garbage in it. Files lists what a
// tolerant extractor still recovers.
func MalformedCorpus() []Fixture {
	env := func(i int, subject string) mailgen.Envelope {
		return mailgen.Envelope{
			From:    mail.Address{Name: "Broken Sender", Address: "broken@example.test"},
			To:      mail.Address{Address: "inbox@example.test"},
			Subject: subject,
			Date:    time.Date(2025, 3, 10, 12, i, 0, 0, time.UTC),
			ID:      fmt.Sprintf("malformed-%02d@example.test", i),
		}
	}
	pdf := mailgen.PDFDoc("Malformed", nil)
	att := func(name string) mailgen.Entity {
		return mailgen.AttachmentPart(Attachment{Name: name, ContentType: "application/pdf", Content: pdf}, mailgen.NamePlain)
	}

	unclosed := mailgen.Multipart("mixed", mailgen.TextPart("The closing boundary is missing.\n"), att("unclosed.pdf"))
	unclosed.Body = bytes.TrimSuffix(unclosed.Body, []byte("--\r\n"))
	unclosed.Body = unclosed.Body[:bytes.LastIndex(unclosed.Body, []byte("\r\n--"))+2]

	broken := att("broken-base64.pdf")
	broken.Body = append([]byte("JVBERi0xLjQK!!!not*base64\r\n"), broken.Body[:len(broken.Body)/2-1]...)

	wrongCharset := mailgen.Multipart("mixed",
		mailgen.Entity{Header: mailgen.Header{{Key: "Content-Type", Value: "text/plain; charset=utf-8"}, {Key: "Content-Transfer-Encoding", Value: "8bit"}},
			Body: []byte("Gr\xfc\xdfe aus K\xf6ln, latin-1 bytes labelled UTF-8.\r\n")},
		mailgen.Entity{Header: mailgen.Header{
			{Key: "Content-Type", Value: `text/csv; charset=x-no-such-charset; name="liste.csv"`},
			{Key: "Content-Disposition", Value: `attachment; filename="liste.csv"`},
		}, Body: []byte("Name;Ort\r\nM\xfcller;K\xf6ln\r\n")},
	)

	tiny := make([]mailgen.Entity, 10000)
	for i := range tiny {
		tiny[i] = mailgen.Entity{Header: mailgen.Header{{Key: "Content-Type", Value: "text/plain"}, {Key: "Content-Disposition", Value: "inline"}}, Body: []byte("x")}
	}

	deep := mailgen.Multipart("mixed", mailgen.TextPart("Bottom.\n"), att("deep.pdf"))
	for range 99 {
		deep = mailgen.Multipart("mixed", deep)
	}

	longHeader := env(6, "A 1 MB header line")
	longRaw := longHeader.Message(mailgen.TextPart("The header above is one line of a million bytes.\n"))
	longRaw = append([]byte("X-Long: "+strings.Repeat("a", 1<<20)+"\r\n"), longRaw...)

	bareLF := bytes.ReplaceAll(env(7, "Bare LF line endings").Message(mailgen.Multipart("mixed", mailgen.TextPart("Unix line endings.\n"), att("bare-lf.pdf"))), []byte("\r\n"), []byte("\n"))

	noBoundary := mailgen.Multipart("mixed", mailgen.TextPart("The boundary parameter is missing.\n"), att("no-boundary.pdf"))
	noBoundary.Header = mailgen.Header{{Key: "Content-Type", Value: "multipart/mixed"}}

	garbage := att("garbage-header.pdf")
	garbage.Header = slices.Insert(garbage.Header, 1, mailgen.Field{Value: "this line is not a header field"})

	return []Fixture{
		{Name: "missing-closing-boundary", Raw: env(0, "Missing closing boundary").Message(unclosed), Files: []string{"unclosed.pdf"}},
		{Name: "broken-base64", Raw: env(1, "Broken base64").Message(mailgen.Multipart("mixed", mailgen.TextPart("The attachment's base64 is broken.\n"), broken)), Files: []string{"broken-base64.pdf"}},
		{Name: "wrong-charset", Raw: env(2, "Wrong charset labels").Message(wrongCharset), Files: []string{"liste.csv"}},
		{Name: "header-only", Raw: []byte(strings.TrimSuffix(string(env(3, "Header only").Message(mailgen.Entity{})), "\r\n"))},
		{Name: "10000-tiny-parts", Raw: env(4, "Ten thousand tiny parts").Message(mailgen.Multipart("mixed", tiny...))},
		{Name: "nested-100-deep", Raw: env(5, "Nested 100 deep").Message(deep), Files: []string{"deep.pdf"}},
		{Name: "1mb-header-line", Raw: longRaw},
		{Name: "bare-lf", Raw: bareLF, Files: []string{"bare-lf.pdf"}},
		{Name: "multipart-without-boundary", Raw: env(8, "Multipart without boundary").Message(noBoundary)},
		{Name: "garbage-part-header", Raw: env(9, "Garbage in a part header").Message(mailgen.Multipart("mixed", mailgen.TextPart("A part header holds garbage.\n"), garbage)), Files: []string{"garbage-header.pdf"}},
	}
}
