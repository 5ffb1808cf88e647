package extract

import (
	"bytes"
	"io"
)

// maxLeadingLines bounds the lines looked at before a header.
const maxLeadingLines = 8

// leadingLines returns where the header of the message in t starts, past
// the lines other parsers pass over before it: an mbox "From " separator
// (mbox files and some export tools leave it on), and lines of nothing
// but spaces or tabs. enmime takes either for a broken first header line
// and gives up on the message. What was passed over is a problem of the
// message; the raw message, written as .eml, keeps it.
func leadingLines(t *text) (start int, problems []string) {
	for range maxLeadingLines {
		end := lineEnd(t, start)
		if end-start > maxHeader {
			return start, problems // scanShape refuses it, unread
		}
		line := bytes.TrimRight(t.slice(start, end), "\r\n")
		switch {
		case start == 0 && bytes.HasPrefix(line, []byte("From ")) && !bytes.HasPrefix(bytes.TrimLeft(line[4:], " \t"), []byte(":")):
			problems = append(problems, "an mbox \"From \" line before the header, passed over")
		case len(line) > 0 && len(bytes.Trim(line, " \t")) == 0:
			problems = append(problems, "a line of white space before the header, passed over")
		default:
			return start, problems
		}
		start = end
	}
	return start, problems
}

// after is the text from off on, a message of its own.
func (t *text) after(off int) *text {
	if t.whole {
		return textOf(t.buf[off:])
	}
	s := textAt(io.NewSectionReader(t.r, int64(off), int64(t.size-off)), int64(t.size-off))
	s.block = t.block
	return s
}
