package extract

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"mailtask/internal/testmail"
)

// outlookItem is an Outlook item as accounts payable receive them: an
// invoice larger than a mini stream holds, an 8-bit name in the item's
// code page, a forwarded mail attached with its own file, an empty file,
// the logo of the signature, shown in the text.
func outlookItem() testmail.OutlookItem {
	return testmail.OutlookItem{Subject: "RE: Angebot", Codepage: 1252, Attachments: []testmail.OutlookAttachment{
		{Name: "Rechnung März 2026.pdf", Short: "RECHNU~1.PDF", MIMEType: "application/pdf", Content: append([]byte("%PDF-1.4\n"), randomContent(20, 9000)...)},
		{Name: "Übersicht.csv", String8: true, Content: []byte("a;b\r\n1;2\r\n")},
		{Name: "Fwd: Anfrage", Message: &testmail.OutlookItem{Subject: "Anfrage", Attachments: []testmail.OutlookAttachment{
			{Name: "見積依頼.pdf", Content: append([]byte("%PDF-1.4\n"), randomContent(21, 300)...)},
		}}},
		{Name: "empty.txt", Content: []byte{}},
		{Name: "image001.png", MIMEType: "image/png", Hidden: true, Content: []byte("\x89PNG\r\n\x1a\nlogo")},
	}}
}

// outlookWant are the files of outlookItem, in order.
func outlookWant() []testmail.OutlookAttachment {
	a := outlookItem().Attachments
	return []testmail.OutlookAttachment{a[0], a[1], a[2].Message.Attachments[0], a[3], a[4]}
}

// withMsg is a message with the Outlook item msg attached as ctype.
func withMsg(msg []byte, name, ctype string) string {
	return mixed(textBody, part(string(base64Lines(msg)),
		"Content-Type: "+ctype+"; name=\""+name+"\"",
		"Content-Disposition: attachment; filename=\""+name+"\"",
		"Content-Transfer-Encoding: base64"))
}

// The files of an item come out in order, in compound files of both
// sizes of sector, attached as Outlook attaches them and as other clients
// attach a .msg file.
func TestExpandOutlookMsg(t *testing.T) {
	want := outlookWant()
	for _, sector := range []int{512, 4096} {
		msg := testmail.OutlookMsgSectors(outlookItem(), sector)
		for _, ctype := range []string{"application/vnd.ms-outlook", "application/octet-stream"} {
			for _, m := range parseBoth(t, []byte(withMsg(msg, "RE_ Angebot.msg", ctype))) {
				if err := m.ExpandNested(false); err != nil {
					t.Fatal(err)
				}
				if len(m.Files) != len(want) {
					t.Fatalf("%d, %s: files %q, want %d (problems %q)", sector, ctype, fileNames(m), len(want), m.Problems)
				}
				for i, f := range m.Files {
					if f.Name != want[i].Name || !bytes.Equal(contentOf(t, f), want[i].Content) || len(f.Defects) != 0 || f.Inline != want[i].Hidden {
						t.Errorf("%d, %s: file %d: %q (%d bytes, defects %v, inline %v), want %q", sector, ctype, i, f.Name, f.Size, f.Defects, f.Inline, want[i].Name)
					}
				}
				if m.Files[0].ContentType != "application/pdf" || m.Files[2].Type() != "application/pdf" || m.Files[1].ContentType != "text/csv" {
					t.Errorf("%d, %s: types %q %q %q", sector, ctype, m.Files[0].ContentType, m.Files[1].ContentType, m.Files[2].Type())
				}
				if len(m.Problems) != 0 {
					t.Errorf("%d, %s: problems %q", sector, ctype, m.Problems)
				}
			}
		}
	}
}

// An Outlook item that is damaged, or holds what is not a file, is kept
// whole beside what could be taken out, with the defect; one that holds
// no files is dropped, as an attached message that holds none is; a
// file named .msg that is no compound file is left as it is.
func TestOutlookMsgKeepsWhatItCannotTake(t *testing.T) {
	files := outlookItem().Attachments[:2]
	whole := testmail.OutlookMsg(testmail.OutlookItem{Attachments: files})
	withOLE := testmail.OutlookMsg(testmail.OutlookItem{Attachments: append(slices.Clone(files), testmail.OutlookAttachment{Name: "Bild", OLE: true, Content: []byte("ole")})})
	withLink := testmail.OutlookMsg(testmail.OutlookItem{Attachments: append(slices.Clone(files), testmail.OutlookAttachment{Name: "Lieferschein.pdf", ByReference: true})})
	deep := testmail.OutlookItem{Attachments: []testmail.OutlookAttachment{{Name: "deep.pdf", Content: []byte("%PDF-1.4\n")}}}
	for range maxNesting {
		inner := deep
		deep = testmail.OutlookItem{Attachments: []testmail.OutlookAttachment{{Name: "Fwd", Message: &inner}}}
	}
	for _, c := range []struct {
		name, ctype string
		msg         []byte
		want        []string
		defect      string
	}{
		{"OLE object", "application/vnd.ms-outlook", withOLE, []string{files[0].Name, files[1].Name, "item.msg"}, DefectMsgObject},
		{"link to a file", "application/vnd.ms-outlook", withLink, []string{files[0].Name, files[1].Name, "item.msg"}, DefectMsgObject},
		{"nested too deep", "application/vnd.ms-outlook", testmail.OutlookMsg(deep), []string{"item.msg"}, DefectMsgObject},
		{"cut short", "application/vnd.ms-outlook", whole[:len(whole)-600], []string{"item.msg"}, DefectMsg},
		{"not a compound file, declared", "application/vnd.ms-outlook", []byte("just some bytes"), []string{"item.msg"}, DefectMsg},
		{"a compound file, not an item", "application/vnd.ms-outlook", noProperties(whole), []string{"item.msg"}, DefectMsg},
		{"not a compound file, named", "application/octet-stream", []byte("text another program calls .msg"), []string{"item.msg"}, ""},
		{"no files", "application/vnd.ms-outlook", testmail.OutlookMsg(testmail.OutlookItem{Subject: "text only"}), nil, ""},
	} {
		m, err := Parse(strings.NewReader(withMsg(c.msg, "item.msg", c.ctype)))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.ExpandNested(false); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := fileNames(m); !slices.Equal(got, c.want) {
			t.Errorf("%s: files %q, want %q (problems %q)", c.name, got, c.want, m.Problems)
			continue
		}
		if c.want == nil {
			continue
		}
		kept := m.Files[len(m.Files)-1]
		if c.defect == "" {
			if len(kept.Defects) != 0 || len(m.Problems) != 0 {
				t.Errorf("%s: defects %v, problems %q", c.name, kept.Defects, m.Problems)
			}
			continue
		}
		if len(kept.Defects) != 1 || kept.Defects[0].Kind != c.defect || !bytes.Equal(contentOf(t, kept), c.msg) || len(m.Problems) != 1 {
			t.Errorf("%s: item.msg kept with defects %v, problems %q; want %s and its bytes", c.name, kept.Defects, m.Problems, c.defect)
		}
	}
}

// noProperties is the compound file msg with its root's properties
// stream renamed: a compound file, but no Outlook item.
func noProperties(msg []byte) []byte {
	name := utf16le("__properties_version1.0")
	out := slices.Clone(msg)
	// The directory lists the root's children before theirs.
	i := bytes.Index(out, name)
	copy(out[i:], utf16le("__xroperties_version1.0"))
	return out
}

func utf16le(s string) []byte {
	var b []byte
	for _, r := range s {
		b = binary.LittleEndian.AppendUint16(b, uint16(r))
	}
	return b
}

// An item's files count as parts of the message: a .msg of many small
// attachments cannot get past the limit on parts.
func TestOutlookMsgCountsParts(t *testing.T) {
	var many testmail.OutlookItem
	for i := range maxParts {
		many.Attachments = append(many.Attachments, testmail.OutlookAttachment{Name: fmt.Sprintf("%d.txt", i), Content: []byte("x")})
	}
	m, err := Parse(strings.NewReader(withMsg(testmail.OutlookMsg(many), "many.msg", "application/vnd.ms-outlook")))
	if err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(m.Files)
	if err := m.ExpandNested(false); err == nil || !strings.Contains(err.Error(), "Outlook items") {
		t.Fatalf("err %v", err)
	}
	if !slices.EqualFunc(m.Files, before, func(a, b File) bool { return a.Name == b.Name }) {
		t.Errorf("files changed: %q", fileNames(m))
	}
}

// hostileOutlookMsgs are outlookItem's .msg spoilt as hostile compound
// files are, by name: a FAT chain that loops, a stream that claims more
// than the file holds, a mini FAT chain that loops, a directory tree
// that loops, a count of FAT sectors far beyond the file.
func hostileOutlookMsgs(t testing.TB) map[string][]byte {
	msg := testmail.OutlookMsg(outlookItem())
	c, err := openCFB(bytes.NewReader(msg), int64(len(msg)))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	// Where things are in msg: the big PDF's entry and first sector, and
	// a mini stream entry.
	var pdf, small int
	for i := 0; i < len(c.dir)/cfbEntrySize; i++ {
		e := c.entry(uint32(i))
		if e.typ == cfbTypeStream && e.size >= cfbMiniCutoff {
			pdf = i
		}
		if e.typ == cfbTypeStream && e.name == "__substg1.0_37010102" && e.size > 0 && e.size < cfbMiniCutoff {
			small = i
		}
	}
	dirAt := func(i int) int { // the file offset of directory entry i
		sect := le.Uint32(msg[0x30:])
		for range i * cfbEntrySize / 512 {
			sect = c.fat[sect]
		}
		return int(c.offset(sect)) + i*cfbEntrySize%512
	}
	fatAt := func(sect uint32) int { // the file offset of sect's FAT entry, FAT sectors being in a row
		return int(c.offset(le.Uint32(msg[0x4c:]))) + 4*int(sect)
	}
	out := map[string][]byte{}
	for name, spoil := range map[string]func(b []byte){
		"FAT chain points at itself": func(b []byte) {
			s := le.Uint32(b[dirAt(pdf)+116:])
			le.PutUint32(b[fatAt(s):], s)
		},
		"FAT chain loops back": func(b []byte) {
			s := le.Uint32(b[dirAt(pdf)+116:])
			le.PutUint32(b[fatAt(s+3):], s+1)
		},
		"stream larger than the file": func(b []byte) { le.PutUint32(b[dirAt(pdf)+120:], 0xffffff00) },
		"mini FAT chain loops": func(b []byte) {
			s := le.Uint32(b[dirAt(small)+116:])
			le.PutUint32(b[dirAt(small)+120:], 4000)
			mf := int(c.offset(le.Uint32(b[0x3c:])))
			le.PutUint32(b[mf+4*int(s):], s)
		},
		"directory tree loops":           func(b []byte) { le.PutUint32(b[dirAt(pdf)+68:], uint32(pdf)) },
		"directory entry in two trees":   func(b []byte) { le.PutUint32(b[dirAt(pdf)+72:], 1) },
		"directory child is its storage": func(b []byte) { le.PutUint32(b[dirAt(0)+76:], 0) },
		"FAT sectors beyond the file": func(b []byte) {
			le.PutUint32(b[0x2c:], 0xffffffff)
			le.PutUint32(b[0x48:], 0xffffffff)
		},
	} {
		out[name] = slices.Clone(msg)
		spoil(out[name])
	}
	return out
}

// Hostile compound files end with a defect, within bounds; a count of FAT
// sectors far beyond the file is read as far as the file goes.
func TestOutlookMsgHostileCompoundFiles(t *testing.T) {
	for name, b := range hostileOutlookMsgs(t) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		items, _, err := readMsg(bytes.NewReader(b), int64(len(b)), 1, maxParts)
		runtime.ReadMemStats(&after)
		var damage cfbDamage
		if intact := strings.HasPrefix(name, "FAT sectors"); intact && (err != nil || len(items) != len(outlookWant())) || !intact && !errors.As(err, &damage) {
			t.Errorf("%s: %d items, err %v", name, len(items), err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 4*uint64(len(b))+64<<10 {
			t.Errorf("%s: allocated %d bytes for a file of %d", name, grew, len(b))
		}
	}
}

// Email::Outlook::Message (msgconvert), an independent reader of .msg
// files, turns the items the tests build into MIME messages holding the
// same files, under the same names.
func TestOutlookMsgMatchesMsgconvert(t *testing.T) {
	tool, err := exec.LookPath("msgconvert")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("msgconvert is not installed (apt-get install libemail-outlook-message-perl libemail-address-perl); CI must not skip this")
		}
		t.Skip("msgconvert is not installed (apt-get install libemail-outlook-message-perl libemail-address-perl)")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "item.msg")
	msg := testmail.OutlookMsg(outlookItem())
	if err := os.WriteFile(path, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "item.eml")
	if b, err := exec.Command(tool, "--outfile", out, path).CombinedOutput(); err != nil {
		t.Fatalf("msgconvert: %v\n%s", err, b)
	}
	converted, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sums := func(m *Message) []string {
		var out []string
		for _, f := range m.Files {
			out = append(out, fmt.Sprintf("%s %x", f.Name, sha256.Sum256(contentOf(t, f))))
		}
		return out
	}
	theirs, err := Parse(bytes.NewReader(converted))
	if err != nil {
		t.Fatal(err)
	}
	theirs.ExpandNested(false) // msgconvert writes the attached mail as message/rfc822
	ours, err := Parse(strings.NewReader(withMsg(msg, "item.msg", "application/vnd.ms-outlook")))
	if err != nil {
		t.Fatal(err)
	}
	ours.ExpandNested(false)
	if a, b := sums(ours), sums(theirs); !slices.Equal(a, b) {
		t.Errorf("ours:       %q\nmsgconvert: %q", a, b)
	}
}

// FuzzOutlookMsg: any bytes are read without panic, within memory in
// proportion to their size, and every file taken out can be read whole.
func FuzzOutlookMsg(f *testing.F) {
	f.Add(testmail.OutlookMsg(outlookItem()))
	f.Add(testmail.OutlookMsgSectors(outlookItem(), 4096))
	f.Add(testmail.OutlookMsg(testmail.OutlookItem{Attachments: []testmail.OutlookAttachment{{Name: "Bild", OLE: true, Content: []byte("ole")}}}))
	f.Add(testmail.OutlookMsg(testmail.OutlookItem{}))
	for _, msg := range hostileOutlookMsgs(f) {
		f.Add(msg)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		items, read, err := readMsg(bytes.NewReader(msg), int64(len(msg)), 1, maxParts)
		runtime.ReadMemStats(&after)
		var damage cfbDamage
		if err != nil && !errors.As(err, &damage) {
			t.Fatal(err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 4*uint64(len(msg))+1<<20 {
			t.Fatalf("allocated %d bytes for %d", grew, len(msg))
		}
		if read > maxParts || len(items) > read {
			t.Fatalf("%d items, %d read", len(items), read)
		}
		for _, it := range items {
			if it.content == nil {
				continue
			}
			if _, err := io.Copy(io.Discard, io.NewSectionReader(it.content, 0, it.content.size)); err != nil {
				t.Fatalf("reading %q: %v", it.name, err)
			}
		}
		m := &Message{Files: []File{NewFile("item.msg", "application/vnd.ms-outlook", msg)}}
		m.ExpandNested(false)
		for _, f := range m.Files {
			checkName(t, f.Name)
		}
	})
}

// An item larger than the header's 109 FAT sectors describe (7 MB) lists
// the rest in DIFAT sectors: its file comes out whole; a DIFAT that points
// past the file's end is damage.
func TestOutlookMsgDIFAT(t *testing.T) {
	content := randomContent(31, 7500<<10)
	msg := testmail.OutlookMsg(testmail.OutlookItem{Attachments: []testmail.OutlookAttachment{{Name: "scan.pdf", Content: content}}})
	if n := binary.LittleEndian.Uint32(msg[0x48:]); n == 0 {
		t.Fatal("the item has no DIFAT sector")
	}
	items, _, err := readMsg(bytes.NewReader(msg), int64(len(msg)), 1, maxParts)
	if err != nil || len(items) != 1 {
		t.Fatalf("%d items, err %v", len(items), err)
	}
	got := make([]byte, items[0].content.size)
	if err := readAtFull(items[0].content, got, 0); err != nil || !bytes.Equal(got, content) {
		t.Errorf("scan.pdf: %d bytes, err %v; not the content", len(got), err)
	}
	binary.LittleEndian.PutUint32(msg[0x44:], 0xfffffff0)
	var damage cfbDamage
	if _, _, err := readMsg(bytes.NewReader(msg), int64(len(msg)), 1, maxParts); !errors.As(err, &damage) {
		t.Errorf("DIFAT past the end: err %v", err)
	}
}
