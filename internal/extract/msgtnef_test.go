package extract

import (
	"errors"
	"fmt"
	"slices"
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
