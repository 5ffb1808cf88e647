package extract

import (
	"strings"
	"testing"
)

// A file whose content was damaged on the way carries the defect, by
// kind; a file that came through intact carries none.
func TestFileDefects(t *testing.T) {
	for _, c := range []struct {
		name, part, kind string
	}{
		{"intact", part("JVBERi0xLjQK", "Content-Type: application/pdf; name=a.pdf", "Content-Transfer-Encoding: base64"), ""},
		{"stray characters", part("JVBE*Ri0xLjQK", "Content-Type: application/pdf; name=a.pdf", "Content-Transfer-Encoding: base64"), DefectBase64},
		{"truncated base64", part("JVBERi0xLjQKQ", "Content-Type: application/pdf; name=a.pdf", "Content-Transfer-Encoding: base64"), DefectBase64},
		{"unknown encoding", part("(BinHex)", "Content-Type: application/pdf; name=a.pdf", "Content-Transfer-Encoding: x-binhex"), DefectUnknownEncoding},
		{"uuencode without end", part(strings.TrimSuffix(uuencode("a.pdf", []byte("%PDF-1.4")), "`\r\nend\r\n"),
			"Content-Type: application/pdf; name=a.pdf", "Content-Transfer-Encoding: x-uuencode"), DefectUUencode},
		{"uuencode block without end", part("see\r\n"+strings.TrimSuffix(uuencode("a.pdf", []byte("%PDF-1.4")), "`\r\nend\r\n"),
			"Content-Type: text/plain"), DefectUUencode},
	} {
		for _, m := range parseBoth(t, []byte(mixed(textBody, c.part))) {
			if len(m.Files) != 1 {
				t.Fatalf("%s: files %v", c.name, m.Files)
			}
			d := m.Files[0].Defects
			switch {
			case c.kind == "" && len(d) != 0:
				t.Errorf("%s: defects %v, want none", c.name, d)
			case c.kind != "" && (len(d) != 1 || d[0].Kind != c.kind || d[0].Detail == ""):
				t.Errorf("%s: defects %v, want one %s", c.name, d, c.kind)
			}
		}
	}
}
