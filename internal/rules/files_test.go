package rules

import (
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/extract"
)

var (
	pdfBytes = []byte("%PDF-1.7\n1 0 obj\n%%EOF\n")
	pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	exeBytes = append([]byte("MZ"), make([]byte, 100)...)
)

func TestFilesRules(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name string
		cfg  config.Attachments
		file extract.File
		want bool
	}{
		{"no rules keep everything", config.Attachments{}, extract.File{Name: "a.bin"}, true},
		{"include glob", config.Attachments{Include: config.Patterns{"*.pdf"}}, extract.File{Name: "Invoice.PDF"}, true},
		{"include misses", config.Attachments{Include: config.Patterns{"*.pdf", "*.xml"}}, extract.File{Name: "logo.png"}, false},
		{"exclude glob", config.Attachments{Exclude: config.Patterns{"image*.png"}}, extract.File{Name: "image001.png"}, false},
		{"exclude beats include", config.Attachments{Include: config.Patterns{"*"}, Exclude: config.Patterns{"*.p7s"}}, extract.File{Name: "smime.p7s"}, false},
		{"content type sniffed", config.Attachments{ContentTypes: config.Patterns{"application/pdf"}},
			extract.NewFile("scan", "application/octet-stream", pdfBytes), true},
		{"content type declared but not true", config.Attachments{ContentTypes: config.Patterns{"application/pdf"}},
			extract.NewFile("invoice.pdf", "application/pdf", exeBytes), false},
		{"content type declared, content without signature", config.Attachments{ContentTypes: config.Patterns{"application/pdf"}},
			extract.NewFile("invoice.pdf", "application/pdf", []byte("not a pdf")), false},
		{"content type glob", config.Attachments{ContentTypes: config.Patterns{"image/*"}},
			extract.NewFile("x", "image/jpg", pngBytes), true},
		{"text type taken as declared", config.Attachments{ContentTypes: config.Patterns{"text/csv"}},
			extract.NewFile("a.csv", "text/csv", []byte("a,b\n1,2\n")), true},
		{"min_size", config.Attachments{MinSize: 10}, extract.NewFile("a", "", make([]byte, 9)), false},
		{"max_size", config.Attachments{MaxSize: 10}, extract.NewFile("a", "", make([]byte, 10)), true},
		{"max_size over", config.Attachments{MaxSize: 10}, extract.NewFile("a", "", make([]byte, 11)), false},
		{"inline kept by default", config.Attachments{}, extract.File{Name: "logo.png", Inline: true}, true},
		{"inline refused", config.Attachments{Inline: &no}, extract.File{Name: "logo.png", Inline: true}, false},
		{"attachment kept without inline", config.Attachments{Inline: &no}, extract.File{Name: "a.pdf"}, true},
		{"inline allowed", config.Attachments{Inline: &yes}, extract.File{Name: "logo.png", Inline: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := NewFiles(tc.cfg).Keep(tc.file)
			if got != tc.want {
				t.Errorf("Keep = %v (%s), want %v", got, why, tc.want)
			}
		})
	}
}

func TestFilesSelectKeepsOrder(t *testing.T) {
	files := []extract.File{{Name: "a.pdf"}, {Name: "b.png"}, {Name: "c.pdf"}}
	got := NewFiles(config.Attachments{Include: config.Patterns{"*.pdf"}}).Select(files)
	if len(got) != 2 || got[0].Name != "a.pdf" || got[1].Name != "c.pdf" {
		t.Errorf("Select = %v", got)
	}
}
