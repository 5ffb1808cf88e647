package extract

import (
	"slices"
	"strings"
	"testing"
)

// Of an AppleDouble file only the data fork is taken, under the name
// either fork gives; an application/applefile part on its own
// (AppleSingle: the file inside it) stays a file.
func TestAppleDoubleTakesTheDataFork(t *testing.T) {
	pdf := "JVBERi0xLjQKJSVFT0YK"
	headerFork := func(name string) string {
		return part("AAUWBwACAAAAAAAAAAAAAAAAAAAAAAABAAAACQAAACYAAAAg", "Content-Type: application/applefile;"+name, "Content-Transfer-Encoding: base64")
	}
	dataFork := func(name string) string {
		return part(pdf, "Content-Type: application/pdf;"+name, "Content-Transfer-Encoding: base64")
	}
	for _, tc := range []struct {
		name, msg string
		want      []string
	}{
		{"both forks named", mixed(textBody, multipart("appledouble", "ad", headerFork(` name="a.pdf"`), dataFork(` name="a.pdf"`))), []string{"a.pdf application/pdf"}},
		{"only the header fork named", mixed(textBody, multipart("appledouble", "ad", headerFork(` name="b.pdf"`), dataFork(" x-unix-mode=0644"))), []string{"b.pdf application/pdf"}},
		{"neither named", mixed(textBody, multipart("appledouble", "ad", headerFork(""), dataFork(""))), []string{"attachment-1.pdf application/pdf"}},
		{"AppleSingle", mixed(textBody, headerFork(` name="c.pdf"`)), []string{"c.pdf application/applefile"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(tc.msg))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range m.Files {
				got = append(got, f.Name+" "+f.ContentType)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("files %q, want %q", got, tc.want)
			}
		})
	}
}
