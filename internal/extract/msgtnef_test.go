package extract

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mailtask/internal/testmail"
)

// An Outlook item dragged into a rich-text mail travels as a .msg inside
// winmail.dat, and a rich-text mail saved as a .msg holds its winmail.dat:
// with both opened, the files of each come out in order, whichever is
// outside; with only one opened, the other is a file.
func TestOutlookMsgAndWinmailDatInsideEachOther(t *testing.T) {
	pdf := []byte("%PDF-1.4\nRechnung 4711\n%%EOF\n")
	item := testmail.OutlookMsg(testmail.OutlookItem{Subject: "Angebot", Attachments: []testmail.OutlookAttachment{
		{Name: "Rechnung 4711.pdf", MIMEType: "application/pdf", Content: pdf},
	}})
	winmail := testmail.TNEF(
		testmail.TNEFFile{Name: "Angebot.msg", Content: item},
		testmail.TNEFFile{Name: "notes.txt", Content: []byte("notes\r\n")})
	rtfItem := testmail.OutlookMsg(testmail.OutlookItem{Subject: "RTF", Attachments: []testmail.OutlookAttachment{
		{Name: "winmail.dat", MIMEType: "application/ms-tnef", Content: testmail.TNEF(testmail.TNEFFile{Name: "Lieferschein.pdf", Content: pdf})},
	}})
	for _, c := range []struct {
		name         string
		raw          string
		both, nested []string // ExpandNested(true), ExpandNested(false)
		tnef         []string // ExpandTNEF alone
	}{
		{"msg in winmail.dat", withMsg(winmail, "winmail.dat", "application/ms-tnef"),
			[]string{"Rechnung 4711.pdf", "notes.txt"}, []string{"winmail.dat"}, []string{"Angebot.msg", "notes.txt"}},
		{"winmail.dat in msg", withMsg(rtfItem, "RTF.msg", "application/vnd.ms-outlook"),
			[]string{"Lieferschein.pdf"}, []string{"winmail.dat"}, []string{"RTF.msg"}},
	} {
		for _, mode := range []struct {
			name   string
			expand func(*Message) error
			want   []string
		}{
			{"both", func(m *Message) error { return m.ExpandNested(true) }, c.both},
			{"nested", func(m *Message) error { return m.ExpandNested(false) }, c.nested},
			{"tnef", (*Message).ExpandTNEF, c.tnef},
		} {
			for _, m := range parseBoth(t, []byte(c.raw)) {
				if err := mode.expand(m); err != nil {
					t.Fatalf("%s, %s: %v", c.name, mode.name, err)
				}
				if got := fileNames(m); !slices.Equal(got, mode.want) {
					t.Errorf("%s, %s: files %q, want %q (problems %q)", c.name, mode.name, got, mode.want, m.Problems)
				}
				if mode.name == "both" && string(contentOf(t, m.Files[0])) != string(pdf) {
					t.Errorf("%s: %s is not the PDF", c.name, m.Files[0].Name)
				}
			}
		}
	}
}

// A .msg in a winmail.dat in a .msg in ... counts every level towards
// the nesting bound: the files of the first 8 levels come out, the level
// beyond is kept whole with a problem.
func TestOutlookMsgAndWinmailDatNestingBound(t *testing.T) {
	content, name, ctype := []byte("%PDF-1.4\ninnermost\n%%EOF\n"), "innermost.pdf", "application/pdf"
	for level := 12; level >= 1; level-- {
		file := []byte(nil)
		if level%2 == 0 {
			file = testmail.OutlookMsg(testmail.OutlookItem{Subject: "level", Attachments: []testmail.OutlookAttachment{
				{Name: name, MIMEType: ctype, Content: content},
				{Name: fmt.Sprintf("level-%d.txt", level), Content: []byte("x")},
			}})
			name, ctype = fmt.Sprintf("level-%d.msg", level), "application/vnd.ms-outlook"
		} else {
			file = testmail.TNEF(testmail.TNEFFile{Name: name, MIMEType: ctype, Content: content},
				testmail.TNEFFile{Name: fmt.Sprintf("level-%d.txt", level), Content: []byte("x")})
			name, ctype = "winmail.dat", "application/ms-tnef"
		}
		content = file
	}
	m, err := Parse(strings.NewReader(withMsg(content, name, ctype)))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ExpandNested(true); err != nil {
		t.Fatal(err)
	}
	// level-N.txt sits at depth N; the container at depth 9 is kept.
	want := []string{"winmail.dat"}
	for level := 8; level >= 1; level-- {
		want = append(want, fmt.Sprintf("level-%d.txt", level))
	}
	if got := fileNames(m); !slices.Equal(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
	if len(m.Problems) != 1 || !strings.Contains(m.Problems[0], "nested more than 8 deep") {
		t.Errorf("problems %q", m.Problems)
	}
}

// The files of every winmail.dat inside an Outlook item count towards
// maxParts, as those of attached messages do.
func TestWinmailDatInsideOutlookMsgCountsParts(t *testing.T) {
	var files []testmail.TNEFFile
	for i := range 700 {
		files = append(files, testmail.TNEFFile{Name: fmt.Sprintf("%d.txt", i), Content: []byte("x")})
	}
	stream := testmail.TNEF(files...)
	var attachments []testmail.OutlookAttachment
	for i := range 3 {
		attachments = append(attachments, testmail.OutlookAttachment{Name: fmt.Sprintf("winmail-%d.dat", i), MIMEType: "application/ms-tnef", Content: stream})
	}
	raw := withMsg(testmail.OutlookMsg(testmail.OutlookItem{Subject: "many", Attachments: attachments}), "many.msg", "application/vnd.ms-outlook")
	m, err := Parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	before := len(m.Files)
	if err := m.ExpandNested(true); !errors.Is(err, ErrUnparseable) || !strings.Contains(err.Error(), "winmail.dat files") {
		t.Errorf("ExpandNested: %v", err)
	}
	if len(m.Files) != before {
		t.Errorf("files changed on failure: %d, were %d", len(m.Files), before)
	}
}

// Debian's tnef(1) and msgconvert, each opening what the other took out,
// take the same files out of a .msg inside a winmail.dat and a winmail.dat
// inside a .msg as ExpandNested(true) does: an independent chain beside
// the Python oracle's (olefile and tnef(1)).
func TestNestedMsgAndWinmailDatMatchTools(t *testing.T) {
	tool := func(name, install string) string {
		path, err := exec.LookPath(name)
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (apt-get install %s); CI must not skip this", name, install)
			}
			t.Skipf("%s is not installed (apt-get install %s)", name, install)
		}
		return path
	}
	tnefTool, msgconvert := tool("tnef", "tnef"), tool("msgconvert", "libemail-outlook-message-perl libemail-address-perl")
	dir := t.TempDir()
	n := 0
	write := func(b []byte) string {
		n++
		path := filepath.Join(dir, strconv.Itoa(n))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// theirs opens name as the tools do, the files inside in turn: by
	// name, as Outlook names them.
	var theirs func(name string, b []byte) []string
	theirs = func(name string, b []byte) []string {
		var inside [][2]string // name, content
		switch {
		case strings.HasSuffix(name, ".msg"):
			out := write(nil) + ".eml"
			if msg, err := exec.Command(msgconvert, "--outfile", out, write(b)).CombinedOutput(); err != nil {
				t.Fatalf("msgconvert: %v\n%s", err, msg)
			}
			eml, _ := os.ReadFile(out)
			m, err := Parse(bytes.NewReader(eml))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range m.Files {
				inside = append(inside, [2]string{f.Name, string(contentOf(t, f))})
			}
		case name == "winmail.dat":
			out := write(nil) + ".d"
			os.Mkdir(out, 0o700)
			listed, err := exec.Command(tnefTool, "-f", write(b), "--list").Output()
			if err != nil {
				t.Fatalf("tnef --list: %v", err)
			}
			if msg, err := exec.Command(tnefTool, "-f", write(b), "-C", out).CombinedOutput(); err != nil {
				t.Fatalf("tnef: %v\n%s", err, msg)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(listed)), "\n") {
				file, _, _ := strings.Cut(line, "\t|\t")
				content, _ := os.ReadFile(filepath.Join(out, file))
				inside = append(inside, [2]string{file, string(content)})
			}
		default:
			return []string{fmt.Sprintf("%s %x", name, sha256.Sum256(b))}
		}
		var out []string
		for _, f := range inside {
			out = append(out, theirs(f[0], []byte(f[1]))...)
		}
		return out
	}
	pdf := []byte("%PDF-1.4\nRechnung 4711\n%%EOF\n")
	item := testmail.OutlookMsg(testmail.OutlookItem{Subject: "Angebot", Attachments: []testmail.OutlookAttachment{
		{Name: "Rechnung 4711.pdf", MIMEType: "application/pdf", Content: pdf},
	}})
	rtf := testmail.OutlookMsg(testmail.OutlookItem{Subject: "RTF", Attachments: []testmail.OutlookAttachment{
		{Name: "winmail.dat", MIMEType: "application/ms-tnef", Content: testmail.TNEF(testmail.TNEFFile{Name: "Lieferschein.pdf", Content: pdf})},
		{Name: "Bestellung.csv", MIMEType: "text/csv", Content: []byte("a;b\r\n")},
	}})
	for _, c := range []struct {
		name, ctype string
		content     []byte
	}{
		{"winmail.dat", "application/ms-tnef", testmail.TNEF(
			testmail.TNEFFile{Name: "Angebot.msg", Content: item},
			testmail.TNEFFile{Name: "notes.txt", Content: []byte("notes\r\n")})},
		{"RTF.msg", "application/vnd.ms-outlook", rtf},
	} {
		m, err := Parse(strings.NewReader(withMsg(c.content, c.name, c.ctype)))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.ExpandNested(true); err != nil {
			t.Fatal(err)
		}
		var ours []string
		for _, f := range m.Files {
			ours = append(ours, fmt.Sprintf("%s %x", f.Name, sha256.Sum256(contentOf(t, f))))
		}
		if want := theirs(c.name, c.content); !slices.Equal(ours, want) {
			t.Errorf("%s: ours %q\ntools: %q", c.name, ours, want)
		}
	}
}
