package extract

import (
	"bytes"
	"errors"
	"io"
)

// File is one attachment to save.
type File struct {
	Name        string // final, sanitised file name: one safe path segment, never empty, never reserved
	ContentType string // declared media type, lower case, e.g. "application/pdf"
	Inline      bool   // shown inside the text (shownInText), not attached beside it
	Size        int64  // bytes of content, transfer-decoded
	// Defects are what was wrong with the content as the message carried
	// it; none for a file that came through intact.
	Defects []Defect
	// Signature is SignatureUnchecked for a file taken from inside an
	// S/MIME signed message, whose signature mailtask does not check;
	// "" for any other.
	Signature string
	content   io.ReaderAt
}

// NewFile is a file whose content is held in memory.
func NewFile(name, contentType string, content []byte) File {
	return File{Name: name, ContentType: contentType, Size: int64(len(content)), content: bytes.NewReader(content)}
}

// Open reads the file's content, transfer-decoded. A file of a message
// parsed by ParseAt may read the message when read: reading fails if the
// message is no longer readable.
func (f File) Open() *io.SectionReader {
	if f.content == nil {
		return io.NewSectionReader(bytes.NewReader(nil), 0, 0)
	}
	return io.NewSectionReader(f.content, 0, f.Size)
}

// DropContent lets go of what m's Files and bodies hold, keeping what
// describes them (names, types, sizes, the header fields), for a caller
// that has written the content elsewhere and keeps the message only to
// name what it wrote. Reading a File afterwards fails with ErrDropped.
func (m *Message) DropContent() {
	for i := range m.Files {
		m.Files[i].content = dropped{}
	}
	m.Text, m.HTML = "", ""
}

// ErrDropped is what reading a File of a message fails with after
// DropContent.
var ErrDropped = errors.New("extract: the file's content was dropped after it was written")

type dropped struct{}

func (dropped) ReadAt([]byte, int64) (int, error) { return 0, ErrDropped }
