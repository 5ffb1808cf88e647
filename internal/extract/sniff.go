package extract

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
)

// signature is a magic-byte prefix and the media type it proves.
type signature struct {
	offset int
	magic  string
	ctype  string
}

// signatures are the formats business mail carries whose first bytes say
// what they are. Text formats (CSV, XML, plain text) have no signature and
// are not sniffed.
var signatures = []signature{
	{0, "%PDF-", "application/pdf"},
	{0, "\x89PNG\r\n\x1a\n", "image/png"},
	{0, "\xff\xd8\xff", "image/jpeg"},
	{0, "GIF87a", "image/gif"},
	{0, "GIF89a", "image/gif"},
	{0, "II*\x00", "image/tiff"},
	{0, "MM\x00*", "image/tiff"},
	{8, "WEBP", "image/webp"}, // after "RIFF" and a length, checked below
	{0, "PK\x03\x04", "application/zip"},
	{0, "PK\x05\x06", "application/zip"}, // an empty archive
	{0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"},
	{0, "Rar!\x1a\x07", "application/vnd.rar"},
	{0, "7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"},
	{0, "\x1f\x8b", "application/gzip"},
	{0, "{\\rtf", "application/rtf"},
	{0, "%!PS", "application/postscript"},
	{0, "MZ", "application/x-msdownload"},
	{0, "\x7fELF", "application/x-executable"},
}

// containers maps a sniffed container format to the declared types that
// are stored in it: an .xls is an OLE file, an .epub a zip archive. Such a
// declared type is believed when the container is what the bytes show.
var containers = map[string][]string{
	"application/x-ole-storage": {"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint", "application/vnd.ms-outlook", "application/vnd.visio"},
	"application/zip":           {"application/x-zip-compressed", "application/x-zip", "application/epub+zip", "application/vnd.ms-xpsdocument", "application/java-archive"},
}

// aliases are declared types mailers write for a registered one.
var aliases = map[string]string{
	"image/jpg":                    "image/jpeg",
	"image/pjpeg":                  "image/jpeg",
	"image/x-png":                  "image/png",
	"application/x-pdf":            "application/pdf",
	"application/acrobat":          "application/pdf",
	"application/x-rar":            "application/vnd.rar",
	"application/x-rar-compressed": "application/vnd.rar",
	"application/x-gzip":           "application/gzip",
	"text/rtf":                     "application/rtf",
	"application/x-msdos-program":  "application/x-msdownload",
	"application/x-dosexec":        "application/x-msdownload",
}

// sniffHead is how much of the content the signatures look at.
const sniffHead = 64

// sniff returns the media type the first of the size bytes in r prove,
// or "" when they prove none (text, or a format without a signature). It
// reads only their start, and for a zip archive its central directory, to
// tell Office Open XML and OpenDocument files from a plain archive.
func sniff(r io.ReaderAt, size int64) string {
	head := make([]byte, min(size, sniffHead))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return ""
	}
	for _, s := range signatures {
		if !bytes.HasPrefix(head[min(s.offset, len(head)):], []byte(s.magic)) {
			continue
		}
		switch s.ctype {
		case "image/webp":
			if !bytes.HasPrefix(head, []byte("RIFF")) {
				continue
			}
		case "application/zip":
			return sniffZip(r, size)
		case "application/x-msdownload":
			if size < 64 { // shorter than a DOS header: just text starting "MZ"
				continue
			}
		}
		return s.ctype
	}
	return ""
}

// sniffZip tells the zip-based office formats from a plain archive by
// their entries, read from the central directory only.
func sniffZip(r io.ReaderAt, size int64) string {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return "application/zip"
	}
	ooxml := false
	for _, f := range zr.File {
		switch name := f.Name; {
		case name == "[Content_Types].xml":
			ooxml = true
		case name == "mimetype" && f.Method == zip.Store && f.UncompressedSize64 < 100:
			rc, err := f.Open()
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(io.LimitReader(rc, 100))
			rc.Close()
			if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "application/vnd.oasis.opendocument.") {
				return t
			}
		}
	}
	if ooxml {
		for _, f := range zr.File {
			switch {
			case strings.HasPrefix(f.Name, "word/"):
				return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
			case strings.HasPrefix(f.Name, "xl/"):
				return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
			case strings.HasPrefix(f.Name, "ppt/"):
				return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
			}
		}
	}
	return "application/zip"
}

// Type is the file's media type as far as its content shows it: the
// sniffed type when the bytes have a signature (or the declared type, when
// that is a kind of the sniffed container); otherwise the declared type,
// unless the declared type has a signature the bytes lack, in which case
// the file claims to be something it is not and is
// "application/octet-stream".
func (f File) Type() string {
	declared := f.ContentType
	if a, ok := aliases[declared]; ok {
		declared = a
	}
	sniffed := sniff(f.Open(), f.Size)
	switch {
	case sniffed == "":
		if hasSignature(declared) {
			return "application/octet-stream"
		}
		return declared
	case sniffed == declared:
		return sniffed
	}
	for _, member := range containers[sniffed] {
		if member == declared {
			return declared
		}
	}
	return sniffed
}

// hasSignature reports whether content of type ctype always starts with
// a signature sniff knows.
func hasSignature(ctype string) bool {
	if _, ok := containers[ctype]; ok {
		return true
	}
	for _, s := range signatures {
		if s.ctype == ctype {
			return true
		}
	}
	for _, members := range containers {
		for _, m := range members {
			if m == ctype {
				return true
			}
		}
	}
	return strings.HasPrefix(ctype, "application/vnd.openxmlformats-officedocument.") ||
		strings.HasPrefix(ctype, "application/vnd.oasis.opendocument.")
}
