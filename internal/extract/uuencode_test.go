package extract

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"mailtask/internal/testmail"
)

var uuencode = testmail.UUencode

func randomContent(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// Parts whose Content-Transfer-Encoding says uuencode are decoded, under
// each name mailers give it.
func TestUUencodedParts(t *testing.T) {
	for i, cte := range []string{"x-uuencode", "uuencode", "x-uue", "X-UUE"} {
		content := randomContent(uint64(i), 1000+i*7)
		raw := mixed(textBody, part("\r\n"+uuencode("REQUEST FOR QUOTE.zip", content),
			"Content-Type: application/zip; name=\"REQUEST FOR QUOTE.zip\"", "Content-Transfer-Encoding: "+cte))
		for _, m := range parseBoth(t, []byte(raw)) {
			if len(m.Files) != 1 || m.Files[0].Name != "REQUEST FOR QUOTE.zip" || !bytes.Equal(contentOf(t, m.Files[0]), content) {
				t.Errorf("%s: files %v, want the decoded zip", cte, m.Files)
			}
			if len(m.Problems) != 0 {
				t.Errorf("%s: problems %q", cte, m.Problems)
			}
		}
	}
}

// uuencoded blocks in a plain text body are files, in order, and prose
// that only looks like a begin line is not.
func TestUUencodedBlocksInText(t *testing.T) {
	png := append([]byte("\x89PNG\r\n\x1a\n"), randomContent(1, 300)...)
	zip := append([]byte("PK\x03\x04"), randomContent(2, 5000)...)
	body := "Hi,\r\nbegin 644 is the mode we agreed on.\r\nhere are the files:\r\n\r\n" +
		uuencode("redball.png", png) + "\r\nand the archive\r\n" + uuencode("data.zip", zip) + "-- \r\nsignature\r\n"
	for name, raw := range map[string]string{
		"MIME text body": mixed(part(body, "Content-Type: text/plain; charset=us-ascii"),
			part("JVBERi0xLjQK", "Content-Type: application/pdf; name=after.pdf", "Content-Transfer-Encoding: base64")),
		"message without MIME": "From: a@example.com\r\nSubject: old client\r\n\r\n" + body,
	} {
		for _, m := range parseBoth(t, []byte(raw)) {
			want := []string{"redball.png", "data.zip"}
			if strings.HasPrefix(name, "MIME") {
				want = append(want, "after.pdf")
			}
			if got := fileNames(m); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("%s: files %q, want %q (problems %q)", name, got, want, m.Problems)
			}
			if !bytes.Equal(contentOf(t, m.Files[0]), png) || !bytes.Equal(contentOf(t, m.Files[1]), zip) {
				t.Errorf("%s: decoded content differs", name)
			}
			if m.Files[0].ContentType != "image/png" || m.Files[1].ContentType != "application/zip" || m.Files[0].Type() != "image/png" {
				t.Errorf("%s: types %q %q", name, m.Files[0].ContentType, m.Files[1].ContentType)
			}
			if !strings.Contains(m.Text, "signature") {
				t.Errorf("%s: the text body lost its end: %q", name, m.Text)
			}
		}
	}
}

func TestUUencodeDefects(t *testing.T) {
	content := randomContent(3, 200)
	good := uuencode("a.bin", content)
	lines := strings.Split(good, "\r\n")
	damaged := strings.Join(append(append([]string{}, lines[:2]...), append([]string{"M" + strings.Repeat("a", 60)}, lines[2:]...)...), "\r\n")
	for _, c := range []struct {
		name, body, problem string
		size                int
	}{
		{"no end line", strings.TrimSuffix(good, "`\r\nend\r\n"), "without an end line", len(content)},
		{"lower-case line", damaged, "1 uuencoded lines damaged", len(content) + 45},
		{"no begin line", "M" + strings.Repeat("!", 60) + "\r\n", "without a begin line", 63},
	} {
		raw := mixed(textBody, part(c.body, "Content-Type: application/octet-stream; name=a.bin", "Content-Transfer-Encoding: x-uuencode"))
		for _, m := range parseBoth(t, []byte(raw)) {
			if len(m.Files) != 1 || m.Files[0].Size != int64(c.size) || !hasProblem(m, c.problem) {
				t.Errorf("%s: files %v, problems %q; want %d bytes and %q", c.name, m.Files, m.Problems, c.size, c.problem)
			}
		}
	}
}

// A large uuencoded file is decoded as it is read, and reads at any
// offset give its bytes.
func TestUUencodedLarge(t *testing.T) {
	content := randomContent(4, 3*uuMarkEvery+1000)
	body := uuencode("big.bin", content)
	for name, raw := range map[string]string{
		"part":  mixed(textBody, part(body, "Content-Type: application/octet-stream; name=big.bin", "Content-Transfer-Encoding: x-uuencode")),
		"block": mixed(part("Here:\r\n"+body, "Content-Type: text/plain")),
	} {
		m, err := ParseAt(strings.NewReader(raw), int64(len(raw)))
		if err != nil || len(m.Files) != 1 {
			t.Fatalf("%s: %v, %v", name, m, err)
		}
		b, ok := m.Files[0].content.(*uuBody)
		if !ok || len(b.marks) < 3 {
			t.Fatalf("%s: content %T, want a uuBody with marks", name, m.Files[0].content)
		}
		if !bytes.Equal(contentOf(t, m.Files[0]), content) {
			t.Fatalf("%s: content differs", name)
		}
		for _, mk := range b.marks {
			for _, off := range []int64{mk.out - 1, mk.out, mk.out + 1} {
				checkReadAt(t, b, content, off, 50)
			}
		}
	}
}

// FuzzUUencode: whatever the lines, reading the decoded body at any
// offset gives what reading it whole gives, and what is encoded decodes
// to itself.
func FuzzUUencode(f *testing.F) {
	f.Add([]byte(uuencode("a.bin", []byte("hello, world"))), []byte("x"))
	f.Add([]byte("begin 644 x\r\nM"+strings.Repeat("`", 60)+"\r\n#86)C\r\n`\r\nend\r\n"), []byte{0, 1, 2})
	f.Add([]byte("begin 600 y\n!80\n\nend"), []byte{})
	f.Fuzz(func(t *testing.T, raw, content []byte) {
		whole, _ := decodeUU(raw)
		b, _, err := uuPart(bytes.NewReader(raw), 0, int64(len(raw)))
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			// Each read at a new offset decodes again from the last mark:
			// the first offsets, and a sample of the rest.
			for off := int64(0); off < b.size; off += 1 + off/16 {
				checkReadAt(t, b, whole, off, 7)
			}
		}
		if got, problem := decodeUU([]byte(uuencode("c", content))); !bytes.Equal(got, content) || problem != "" {
			t.Fatalf("round trip of %q: %q, %q", content, got, problem)
		}
		m, err := Parse(bytes.NewReader(append([]byte("Subject: x\r\n\r\n"), raw...)))
		if err == nil {
			for _, f := range m.Files {
				checkName(t, f.Name)
				io.Copy(io.Discard, f.Open())
			}
		}
	})
}

// parseBoth parses raw in memory and where it lies, through a small window.
func parseBoth(t *testing.T, raw []byte) []*Message {
	t.Helper()
	a, err := Parse(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	b, err := parse(windowedText(raw))
	if err != nil {
		t.Fatal(err)
	}
	return []*Message{a, b}
}
