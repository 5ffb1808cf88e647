package popimap

import (
	"slices"
	"testing"

	"mailtask/internal/testmail"
)

// tnef = "extract" (the default) writes the files inside winmail.dat;
// "keep" writes winmail.dat as it came.
func TestTNEFSetting(t *testing.T) {
	stream := testmail.TNEF(
		testmail.TNEFFile{Name: "Angebot Müller.pdf", Content: pdf("offer")},
		testmail.TNEFFile{Name: "Preise 2025.csv", Content: []byte("a;b\r\n")},
	)
	raw := mail{subject: "rich text", files: []testmail.Attachment{{Name: "winmail.dat", ContentType: "application/ms-tnef", Content: stream}}}.raw()
	for _, c := range []struct {
		setting []string
		want    []string
	}{
		{nil, []string{"Angebot Müller.pdf", "Preise 2025.csv"}},
		{[]string{"[task.attachments]", `tnef = "keep"`}, []string{"winmail.dat"}},
	} {
		f := newFixture(t, testmail.IMAPOptions{}, c.setting...)
		f.append(raw)
		f.mustRun()
		if got := sortedKeys(f.files()); !slices.Equal(got, c.want) {
			t.Errorf("%v: files %q, want %q", c.setting, got, c.want)
		}
	}
}
