package extract

import (
	"archive/zip"
	"bytes"
	"testing"
)

func zipOf(t *testing.T, entries ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i := 0; i < len(entries); i += 2 {
		method := zip.Deflate
		if entries[i] == "mimetype" {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: entries[i], Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(entries[i+1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"pdf", []byte("%PDF-1.4\n..."), "application/pdf"},
		{"png", []byte("\x89PNG\r\n\x1a\nrest"), "image/png"},
		{"jpeg", []byte("\xff\xd8\xff\xe0\x00\x10JFIF"), "image/jpeg"},
		{"gif", []byte("GIF89a..."), "image/gif"},
		{"tiff", []byte("II*\x00\x08\x00"), "image/tiff"},
		{"webp", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), "image/webp"},
		{"riff but not webp", []byte("RIFF\x00\x00\x00\x00WAVEfmt "), ""},
		{"zip", zipOf(t, "a.txt", "hello"), "application/zip"},
		{"docx", zipOf(t, "[Content_Types].xml", "<x/>", "word/document.xml", "<w/>"), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"xlsx", zipOf(t, "[Content_Types].xml", "<x/>", "xl/workbook.xml", "<w/>"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"odt", zipOf(t, "mimetype", "application/vnd.oasis.opendocument.text", "content.xml", "<x/>"), "application/vnd.oasis.opendocument.text"},
		{"truncated zip", []byte("PK\x03\x04garbage"), "application/zip"},
		{"ole", []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest"), "application/x-ole-storage"},
		{"exe", append([]byte("MZ"), make([]byte, 100)...), "application/x-msdownload"},
		{"text starting MZ", []byte("MZ is a postcode"), ""},
		{"elf", []byte("\x7fELF\x02\x01"), "application/x-executable"},
		{"csv", []byte("a;b\n1;2\n"), ""},
		{"empty", nil, ""},
	} {
		if got := sniff(bytes.NewReader(tc.content), int64(len(tc.content))); got != tc.want {
			t.Errorf("sniff(%s) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestFileType(t *testing.T) {
	pdf := []byte("%PDF-1.7\n")
	ole := []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest")
	for _, tc := range []struct {
		name     string
		declared string
		content  []byte
		want     string
	}{
		{"declared and true", "application/pdf", pdf, "application/pdf"},
		{"undeclared pdf", "application/octet-stream", pdf, "application/pdf"},
		{"alias", "image/jpg", []byte("\xff\xd8\xff\xdb"), "image/jpeg"},
		{"pdf that is an exe", "application/pdf", append([]byte("MZ"), make([]byte, 100)...), "application/x-msdownload"},
		{"pdf without its signature", "application/pdf", []byte("hello"), "application/octet-stream"},
		{"xls in its container", "application/vnd.ms-excel", ole, "application/vnd.ms-excel"},
		{"zip-based claims a zip", "application/x-zip-compressed", zipOf(t, "a", "b"), "application/x-zip-compressed"},
		{"text as declared", "text/csv", []byte("a,b\n"), "text/csv"},
		{"docx declared as zip", "application/zip", zipOf(t, "[Content_Types].xml", "", "word/x.xml", ""), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	} {
		f := NewFile("", tc.declared, tc.content)
		if got := f.Type(); got != tc.want {
			t.Errorf("%s: Type() = %q, want %q", tc.name, got, tc.want)
		}
	}
}
