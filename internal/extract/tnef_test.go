package extract

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailtask/internal/testmail"
)

// tnefFiles are attachments as Outlook puts them in a winmail.dat: a
// Unicode long name, an 8-bit one, a name the 8.3 title cannot hold.
func tnefFiles() []testmail.TNEFFile {
	return []testmail.TNEFFile{
		{Name: "Jahresübersicht 2024 – Entwurf.xlsx", MIMEType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Content: randomContent(10, 3000)},
		{Name: "Rechnung März.pdf", String8: true, Content: append([]byte("%PDF-1.4\n"), randomContent(11, 500)...)},
		{Name: "見積書.txt", Content: []byte("quote\r\n")},
		{Name: "empty.bin", Content: nil},
	}
}

// winmail is a message as Outlook sends rich text: the text, and the
// TNEF stream as winmail.dat.
func winmail(stream []byte) string {
	return mixed(textBody, part(string(base64Lines(stream)),
		"Content-Type: application/ms-tnef; name=\"winmail.dat\"",
		"Content-Disposition: attachment; filename=\"winmail.dat\"",
		"Content-Transfer-Encoding: base64"))
}

func base64Lines(b []byte) []byte {
	s := base64.StdEncoding.EncodeToString(b)
	var out []byte
	for len(s) > 76 {
		out = append(out, s[:76]+"\r\n"...)
		s = s[76:]
	}
	return append(out, s+"\r\n"...)
}

func TestExpandTNEF(t *testing.T) {
	want := tnefFiles()
	for _, m := range parseBoth(t, []byte(winmail(testmail.TNEF(want...)))) {
		if got := fileNames(m); !slices.Equal(got, []string{"winmail.dat"}) {
			t.Fatalf("before: %q", got)
		}
		m.ExpandTNEF()
		if len(m.Files) != len(want) {
			t.Fatalf("files %q, want %d (problems %q)", fileNames(m), len(want), m.Problems)
		}
		for i, f := range m.Files {
			if f.Name != want[i].Name || !bytes.Equal(contentOf(t, f), want[i].Content) || len(f.Defects) != 0 {
				t.Errorf("file %d: %q (%d bytes, defects %v), want %q", i, f.Name, f.Size, f.Defects, want[i].Name)
			}
		}
		if m.Files[0].ContentType != want[0].MIMEType || m.Files[1].ContentType != "application/pdf" || m.Files[1].Type() != "application/pdf" {
			t.Errorf("types %q %q", m.Files[0].ContentType, m.Files[1].ContentType)
		}
		if len(m.Problems) != 0 {
			t.Errorf("problems %q", m.Problems)
		}
	}
}

// A stream that holds an attached message, or is damaged, is kept whole
// beside what could be taken out, with the defect; one that holds no
// files (rich text only) is dropped.
func TestExpandTNEFKeepsWhatItCannotTake(t *testing.T) {
	files := tnefFiles()[:2]
	inner := testmail.TNEF(testmail.TNEFFile{Name: "inner.pdf", Content: []byte("%PDF-1.4\n")})
	withMessage := testmail.TNEF(append(slices.Clone(files), testmail.TNEFFile{Name: "Fwd: offer", Message: true, Content: inner})...)
	whole := testmail.TNEF(files...)
	cut := whole[:len(whole)-40]
	for _, c := range []struct {
		name   string
		stream []byte
		want   []string
		defect string
	}{
		{"attached message", withMessage, []string{files[0].Name, files[1].Name, "winmail.dat"}, DefectTNEFMessage},
		// The second file's content is whole, its properties (with its long name) cut.
		{"cut short", cut, []string{files[0].Name, "RECHNU~1.PDF", "winmail.dat"}, DefectTNEF},
		{"not TNEF", []byte("just some bytes, no signature"), []string{"winmail.dat"}, DefectTNEF},
		{"rich text only", testmail.TNEF(), nil, ""},
	} {
		m, err := Parse(strings.NewReader(winmail(c.stream)))
		if err != nil {
			t.Fatal(err)
		}
		m.ExpandTNEF()
		if got := fileNames(m); !slices.Equal(got, c.want) {
			t.Errorf("%s: files %q, want %q", c.name, got, c.want)
			continue
		}
		if c.defect == "" {
			continue
		}
		kept := m.Files[len(m.Files)-1]
		if len(kept.Defects) != 1 || kept.Defects[0].Kind != c.defect || !bytes.Equal(contentOf(t, kept), c.stream) {
			t.Errorf("%s: winmail.dat kept with defects %v, want %s and its bytes", c.name, kept.Defects, c.defect)
		}
	}
}

// The files of a winmail.dat taken from inside a signed message are from
// inside it too.
func TestExpandTNEFKeepsSignature(t *testing.T) {
	f := NewFile("winmail.dat", "application/ms-tnef", testmail.TNEF(tnefFiles()[:1]...))
	f.Signature = SignatureUnchecked
	m := &Message{Files: []File{f}}
	m.ExpandTNEF()
	if len(m.Files) != 1 || m.Files[0].Signature != SignatureUnchecked {
		t.Errorf("files %+v", m.Files)
	}
}

// Debian's tnef(1), an independent decoder, takes the same files out of
// the streams the tests build, under the same names.
func TestTNEFMatchesTNEFTool(t *testing.T) {
	tool, err := exec.LookPath("tnef")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tnef(1) is not installed (apt-get install tnef); CI must not skip this")
		}
		t.Skip("tnef(1) is not installed (apt-get install tnef)")
	}
	stream := testmail.TNEF(tnefFiles()...)
	dir := t.TempDir()
	path := filepath.Join(dir, "winmail.dat")
	if err := os.WriteFile(path, stream, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o700)
	if b, err := exec.Command(tool, "-f", path, "-C", out).CombinedOutput(); err != nil {
		t.Fatalf("tnef: %v\n%s", err, b)
	}
	theirs := map[string]string{}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(out, e.Name()))
		// tnef(1) writes an 8-bit name's bytes as they are: windows-1252 here.
		theirs[decodeCharset("", []byte(e.Name()))] = fmt.Sprintf("%x", sha256.Sum256(b))
	}
	m, err := Parse(strings.NewReader(winmail(stream)))
	if err != nil {
		t.Fatal(err)
	}
	m.ExpandTNEF()
	ours := map[string]string{}
	for _, f := range m.Files {
		ours[f.Name] = fmt.Sprintf("%x", sha256.Sum256(contentOf(t, f)))
	}
	if fmt.Sprint(ours) != fmt.Sprint(theirs) {
		t.Errorf("ours:  %v\ntnef: %v", ours, theirs)
	}
}

// FuzzTNEF: any stream is read without panic, in bounded memory, and
// every file taken out lies inside it.
func FuzzTNEF(f *testing.F) {
	f.Add(testmail.TNEF(tnefFiles()...))
	f.Add(testmail.TNEF(testmail.TNEFFile{Name: "m", Message: true, Content: testmail.TNEF()}))
	f.Add(testmail.TNEF())
	f.Fuzz(func(t *testing.T, stream []byte) {
		files, _, err := readTNEF(bytes.NewReader(stream), int64(len(stream)))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) > maxTNEFFiles {
			t.Fatalf("%d files", len(files))
		}
		for _, f := range files {
			if f.hasData && (f.data.off < 0 || f.data.n < 0 || f.data.off+f.data.n > int64(len(stream))) {
				t.Fatalf("file %q at %+v outside a stream of %d bytes", f.name(), f.data, len(stream))
			}
			if len(f.name()) > 4*maxTNEFName {
				t.Fatalf("name of %d bytes", len(f.name()))
			}
		}
		m := &Message{Files: []File{NewFile("winmail.dat", "application/ms-tnef", stream)}}
		m.ExpandTNEF()
		for _, f := range m.Files {
			checkName(t, f.Name)
		}
	})
}
