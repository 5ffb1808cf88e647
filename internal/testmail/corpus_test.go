package testmail

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	mimemultipart "mime/multipart"
	"net/mail"
	"slices"
	"strings"
	"testing"

	"github.com/jhillyerd/enmime/v2"

	"mailtask/internal/mailgen"
)

// parsedFile is an attachment as enmime sees it.
type parsedFile struct {
	name, ctype string
	content     []byte
}

// enmimeFiles lists the parts an extractor should save, the way
// internal/extract chooses them: leaves with a file name, or with an
// attachment disposition.
func enmimeFiles(t *testing.T, raw []byte) []parsedFile {
	t.Helper()
	root, err := enmime.ReadParts(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("enmime: %v", err)
	}
	var files []parsedFile
	for _, p := range root.DepthMatchAll(func(p *enmime.Part) bool { return p.FirstChild == nil }) {
		if p.FileName != "" || p.Disposition == "attachment" {
			files = append(files, parsedFile{p.FileName, p.ContentType, p.Content})
		}
	}
	return files
}

func names(files []parsedFile) []string {
	var n []string
	for _, f := range files {
		n = append(n, f.name)
	}
	return n
}

// checkMessage asserts what every generated well-formed message has: a
// header net/mail reads with the required fields, and CRLF line endings.
func checkMessage(t *testing.T, name string, raw []byte) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Errorf("%s: net/mail: %v", name, err)
		return
	}
	for _, key := range []string{"Date", "From", "To", "Subject", "Message-Id", "Mime-Version"} {
		if m.Header.Get(key) == "" {
			t.Errorf("%s: no %s header", name, key)
		}
	}
	if _, err := m.Header.Date(); err != nil {
		t.Errorf("%s: Date: %v", name, err)
	}
	if _, err := m.Header.AddressList("From"); err != nil {
		t.Errorf("%s: From: %v", name, err)
	}
	if bytes.Count(raw, []byte("\n")) != bytes.Count(raw, []byte("\r\n")) {
		t.Errorf("%s: bare LF line endings", name)
	}
	for line := range bytes.SplitSeq(raw, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("%s: a line of %d bytes exceeds RFC 5322's 998", name, len(line))
			break
		}
	}
}

// checkMagic asserts that PDFs, PNGs and JPEGs are what they claim.
func checkMagic(t *testing.T, name string, f parsedFile) {
	t.Helper()
	var err error
	switch f.ctype {
	case "application/pdf":
		if !bytes.HasPrefix(f.content, []byte("%PDF-1.4\n")) {
			err = fmt.Errorf("no PDF header")
		}
	case "image/png":
		_, err = png.Decode(bytes.NewReader(f.content))
	case "image/jpeg":
		_, err = jpeg.Decode(bytes.NewReader(f.content))
	}
	if err != nil {
		t.Errorf("%s: %s (%s): %v", name, f.name, f.ctype, err)
	}
}

func TestDemoCorpus(t *testing.T) {
	corpus := DemoCorpus()
	if n := len(corpus); n < 20 || n > 30 {
		t.Errorf("DemoCorpus has %d messages, want about two dozen", n)
	}
	seen := map[string]bool{}
	reports := map[string]bool{}
	for _, f := range corpus {
		if seen[f.Name] {
			t.Errorf("duplicate fixture name %q", f.Name)
		}
		seen[f.Name] = true
		checkMessage(t, f.Name, f.Raw)
		files := enmimeFiles(t, f.Raw)
		if got := names(files); !slices.Equal(got, f.Files) {
			t.Errorf("%s: enmime finds files %q, fixture says %q", f.Name, got, f.Files)
		}
		for _, file := range files {
			checkMagic(t, f.Name, file)
			if file.name == "report.pdf" {
				reports[string(file.content)] = true
			}
		}
	}
	if len(reports) != 2 {
		t.Errorf("%d distinct report.pdf contents, want 2", len(reports))
	}
	if !bytes.Equal(DemoCorpus()[5].Raw, corpus[5].Raw) {
		t.Error("DemoCorpus is not deterministic")
	}

	// The shapes the corpus promises, each in some message.
	all := func(f Fixture) string { return string(f.Raw) }
	for shape, has := range map[string]func(Fixture) bool{
		"RFC 2231 non-ASCII name": func(f Fixture) bool { return strings.Contains(all(f), "filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf") },
		"RFC 2047 name":           func(f Fixture) bool { return strings.Contains(all(f), `filename="=?UTF-8?b?`) },
		"name= only":              func(f Fixture) bool { return len(f.Files) == 1 && !strings.Contains(all(f), "filename") },
		"no attachment":           func(f Fixture) bool { return len(f.Files) == 0 },
		"nested message/rfc822":   func(f Fixture) bool { return strings.Contains(all(f), "Content-Type: message/rfc822") },
		"inline image and attachment": func(f Fixture) bool {
			return strings.Contains(all(f), "Content-Disposition: inline\r\nContent-ID:") && len(f.Files) == 1
		},
		"malformed": func(f Fixture) bool { return !strings.HasSuffix(strings.TrimSpace(all(f)), "--") },
	} {
		if !slices.ContainsFunc(corpus, has) {
			t.Errorf("no demo message has %s", shape)
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a, b := Generate(7, 30, 0.01), Generate(7, 30, 0.01)
	if len(a) != 30 {
		t.Fatalf("Generate(7, 30) gave %d messages", len(a))
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Raw, b[i].Raw) || !slices.Equal(a[i].Files, b[i].Files) {
			t.Fatalf("message %d differs between two runs with the same seed", i)
		}
	}
	c := Generate(8, 30, 0.01)
	if slices.EqualFunc(a, c, func(x, y Fixture) bool { return bytes.Equal(x.Raw, y.Raw) }) {
		t.Error("seeds 7 and 8 generate the same messages")
	}
}

func TestGenerateMix(t *testing.T) {
	const n = 200
	kinds := map[string]int{}
	shapes := map[string]bool{}
	for _, f := range Generate(1, n, 0.01) {
		kind, rest, _ := strings.Cut(f.Name, "-")
		kinds[kind]++
		checkMessage(t, f.Name, f.Raw)
		if got := names(enmimeFiles(t, f.Raw)); !slices.Equal(got, f.Files) {
			t.Errorf("%s: enmime finds files %q, fixture says %q", f.Name, got, f.Files)
		}
		switch kind {
		case "none":
			if len(f.Files) != 0 {
				t.Errorf("%s has files %q", f.Name, f.Files)
			}
		case "attach":
			if k := len(f.Files); k < 1 || k > 3 {
				t.Errorf("%s has %d attachments, want 1–3", f.Name, k)
			}
		case "large":
			if len(f.Files) != 1 {
				t.Errorf("%s has %d attachments, want 1", f.Name, len(f.Files))
			}
		case "odd":
			shape, _, _ := strings.Cut(rest, "-")
			shapes[shape] = true
		}
	}
	want := map[string]int{"none": 80, "attach": 90, "large": 20, "odd": 10}
	for kind, w := range want {
		if kinds[kind] != w {
			t.Errorf("%d %q messages of %d, want %d", kinds[kind], kind, n, w)
		}
	}
	if len(shapes) != 4 {
		t.Errorf("odd shapes %v, want nested, parts, names and inline", shapes)
	}
}

func TestGenerateSizes(t *testing.T) {
	const kib, mib = 1024, 1024 * 1024
	large := 0
	for _, f := range Generate(3, 20, 1) {
		kind, _, _ := strings.Cut(f.Name, "-")
		lo, hi := 5*kib, 300*kib
		switch kind {
		case "large":
			lo, hi = 1*mib, 5*mib
			large++
		case "none", "odd":
			continue
		}
		for _, file := range flatAttachments(t, f.Raw) {
			// Formats reach their size with a little slack either way.
			if n := len(file.content); n < lo-200 || n > hi+200 {
				t.Errorf("%s: %s is %d bytes, want %d–%d", f.Name, file.name, n, lo, hi)
			}
			checkMagic(t, f.Name, file)
		}
	}
	if large != 2 {
		t.Errorf("%d large messages of 20, want 2", large)
	}
}

// flatAttachments decodes the base64 parts of a one-level multipart
// message with the standard library, which is much quicker than enmime
// for megabytes under the race detector.
func flatAttachments(t *testing.T, raw []byte) []parsedFile {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	var files []parsedFile
	mr := mimemultipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Header.Get("Content-Transfer-Encoding") != "base64" {
			continue
		}
		ctype, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		content, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, parsedFile{p.FileName(), ctype, content})
	}
}

func TestNewMessage(t *testing.T) {
	pdf := mailgen.PDFDoc("x", nil)
	raw := NewMessage("Grüße", Attachment{Name: "a.pdf", ContentType: "application/pdf", Content: pdf},
		Attachment{Name: "März.txt", Content: []byte("hi")},
		Attachment{Name: "logo.png", ContentType: "image/png", Content: []byte("\x89PNG"), Inline: true})
	checkMessage(t, "NewMessage", raw)
	if !bytes.Equal(raw, NewMessage("Grüße", Attachment{Name: "a.pdf", ContentType: "application/pdf", Content: pdf},
		Attachment{Name: "März.txt", Content: []byte("hi")},
		Attachment{Name: "logo.png", ContentType: "image/png", Content: []byte("\x89PNG"), Inline: true})) {
		t.Error("NewMessage is not deterministic")
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if env.GetHeader("Subject") != "Grüße" {
		t.Errorf("subject %q", env.GetHeader("Subject"))
	}
	files := enmimeFiles(t, raw)
	want := []parsedFile{{"a.pdf", "application/pdf", pdf}, {"März.txt", "application/octet-stream", []byte("hi")}, {"logo.png", "image/png", []byte("\x89PNG")}}
	if !slices.EqualFunc(files, want, func(a, b parsedFile) bool {
		return a.name == b.name && a.ctype == b.ctype && bytes.Equal(a.content, b.content)
	}) {
		t.Errorf("files %q, want %q", names(files), names(want))
	}
	if len(env.Inlines) != 1 || env.Inlines[0].FileName != "logo.png" {
		t.Errorf("the Inline attachment is not inline")
	}
	if !bytes.Contains(raw, []byte("filename*=UTF-8''M%C3%A4rz.txt")) {
		t.Error("a non-ASCII name is not sent as RFC 2231 filename*=")
	}

	plain := NewMessage("no attachments")
	checkMessage(t, "plain NewMessage", plain)
	if m, _ := mail.ReadMessage(bytes.NewReader(plain)); m == nil || !strings.HasPrefix(m.Header.Get("Content-Type"), "text/plain") {
		t.Error("a message without attachments is not text/plain")
	}
}

// TestHostileMessage decodes every part's name with the standard library
// and checks that each hostile name arrives intact in each spelling.
func TestHostileMessage(t *testing.T) {
	raw := HostileMessage()
	checkMessage(t, "HostileMessage", raw)
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	hostile := HostileNames()
	var dec mime.WordDecoder
	decodeWords := func(s string) string {
		d, err := dec.DecodeHeader(s)
		if err != nil {
			t.Errorf("decode %q: %v", s, err)
		}
		return d
	}
	got := map[string]int{}
	mr := mimemultipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		_, ctParams, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("Content-Type %q: %v", p.Header.Get("Content-Type"), err)
		}
		body, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
		if err != nil || len(ctParams) == 1 && ctParams["charset"] != "" {
			continue // the text part
		}
		var i int
		var spelling string
		if _, err := fmt.Sscanf(string(body), "hostile name %d as %s\n", &i, &spelling); err != nil {
			t.Fatalf("part content %q: %v", body, err)
		}
		var name, want string
		switch spelling {
		case "name":
			if p.Header.Get("Content-Disposition") != "" {
				t.Errorf("name %d as name= has a Content-Disposition", i)
			}
			name, want = decodeWords(ctParams["name"]), decodeWords(hostile[i])
		case "filename", "filename*":
			_, dispParams, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
			if err != nil {
				t.Fatalf("Content-Disposition %q: %v", p.Header.Get("Content-Disposition"), err)
			}
			name, want = dispParams["filename"], hostile[i]
			if spelling == "filename" {
				name, want = decodeWords(name), decodeWords(want)
			} else if !strings.Contains(p.Header.Get("Content-Disposition"), "filename*=") {
				t.Errorf("name %d as filename* is not RFC 2231 encoded", i)
			}
		}
		if name != want {
			t.Errorf("name %d as %s arrives as %q, want %q", i, spelling, name, want)
		}
		got[spelling]++
	}
	if n := len(hostile); got["filename"] != n || got["filename*"] < n/3 || got["name"] < n/3 {
		t.Errorf("spellings %v for %d names", got, n)
	}
	if !slices.Contains(hostile, "../../etc/passwd") || !slices.Contains(hostile, "a\x00b.pdf") || !slices.ContainsFunc(hostile, func(s string) bool { return len(s) >= 300 }) {
		t.Error("HostileNames lacks a promised name")
	}
}

func TestMalformedCorpus(t *testing.T) {
	fixtures := map[string][]byte{}
	for _, f := range MalformedCorpus() {
		if _, dup := fixtures[f.Name]; dup {
			t.Errorf("duplicate fixture name %q", f.Name)
		}
		fixtures[f.Name] = f.Raw
	}
	for name, broken := range map[string]func([]byte) bool{
		"missing-closing-boundary": func(raw []byte) bool { return !bytes.Contains(raw, []byte("--\r\n")) },
		"broken-base64":            func(raw []byte) bool { return bytes.Contains(raw, []byte("!!!not*base64")) },
		"wrong-charset": func(raw []byte) bool {
			return bytes.Contains(raw, []byte("charset=utf-8")) && bytes.Contains(raw, []byte("Gr\xfc\xdfe"))
		},
		"header-only": func(raw []byte) bool { return !bytes.Contains(raw, []byte("\r\n\r\n")) },
		"10000-tiny-parts": func(raw []byte) bool {
			return bytes.Count(raw, []byte("\r\nContent-Disposition: inline\r\n")) == 10000 && len(raw) < 1<<20
		},
		"nested-100-deep": func(raw []byte) bool { return bytes.Count(raw, []byte("multipart/mixed")) == 100 },
		"1mb-header-line": func(raw []byte) bool {
			line, _, _ := bytes.Cut(raw, []byte("\r\n"))
			return len(line) > 1<<20
		},
		"bare-lf": func(raw []byte) bool {
			return !bytes.Contains(raw, []byte("\r")) && bytes.Count(raw, []byte("\n")) > 10
		},
		"multipart-without-boundary": func(raw []byte) bool { return bytes.Contains(raw, []byte("Content-Type: multipart/mixed\r\n")) },
		"garbage-part-header":        func(raw []byte) bool { return bytes.Contains(raw, []byte("\r\nthis line is not a header field\r\n")) },
	} {
		raw, ok := fixtures[name]
		if !ok {
			t.Errorf("no %s fixture", name)
			continue
		}
		if !broken(raw) {
			t.Errorf("%s is not broken that way", name)
		}
		if _, err := mail.ReadMessage(bytes.NewReader(raw)); err != nil && name != "header-only" {
			t.Errorf("%s: top-level header does not parse: %v", name, err)
		}
	}
}
