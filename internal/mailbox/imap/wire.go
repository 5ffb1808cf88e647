package imap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// What a server may send that go-imap holds in memory is bounded here, on
// the way in: go-imap reads a response line, and every literal but a
// message's, into memory whatever its length, so an endless greeting or a
// {99999999999} in a LIST would cost that much. Message literals
// (BODY[...] and BINARY[...] in a FETCH) stream, and Fetch bounds them by
// the message size limit.
const (
	// maxResponse bounds a response's bytes outside message literals: its
	// lines and its other literals (folder names, keywords). Real ones are
	// a few hundred bytes; a folder with thousands of keywords, some KB.
	maxResponse = 1 << 20
	// maxSearch bounds the SEARCH responses to one command, a number per
	// message found: 16 MB holds over a million UIDs (MaxListing).
	maxSearch = 16 << 20
	// maxLine bounds the lines mailtask reads itself, before go-imap
	// takes over (the greeting and STARTTLS reply, CAPABILITY after it).
	maxLine = 64 << 10
)

// errTooLong is what the connection fails with when a server sends more
// than the bounds allow; the server is broken or hostile.
var errTooLong = errors.New("mailtask: the server sent a response longer than mailtask accepts")

// responseKind is what a response is, as its first line says.
type responseKind int

const (
	untagged       responseKind = iota
	tagged                      // a command's completion
	fetchData                   // "* n FETCH", which may carry message literals
	searchData                  // "* SEARCH", which may be long
	capabilityData              // "* CAPABILITY"
)

// wireBounds measures the responses the code filter passes on.
type wireBounds struct {
	kind     responseKind // of the response being passed on
	size     int64        // its bytes so far, outside message literals
	searched int64        // bytes of SEARCH responses since the last completion
	caps     capsScan
}

// line measures chunk, a line or the next part of a long one, start
// saying it begins a response.
func (b *wireBounds) line(chunk []byte, start bool) error {
	if start {
		b.kind, b.size = kindOf(chunk), 0
		if b.kind == tagged {
			b.searched = 0
		}
		b.caps = capsScan{in: b.kind == capabilityData, toEOL: true}
	}
	if b.kind != searchData && b.caps.paren(chunk) {
		return errors.New(`mailtask: the server listed a capability with "(", on which go-imap would spin for ever`)
	}
	if b.kind == searchData {
		b.searched += int64(len(chunk))
		if b.searched > maxSearch {
			return fmt.Errorf("%w: SEARCH answers longer than %d MB", errTooLong, maxSearch>>20)
		}
		return nil
	}
	b.size += int64(len(chunk))
	if b.size > maxResponse {
		return fmt.Errorf("%w: a response (%.40q...) longer than %d MB outside message literals", errTooLong, chunk, maxResponse>>20)
	}
	return nil
}

// literal measures a literal of n bytes announced at the end of tail, the
// end of its line: a message's streams, any other counts in the response.
func (b *wireBounds) literal(n int64, tail []byte) error {
	if b.kind == fetchData && messageLiteral(tail) {
		return nil
	}
	b.size += n
	if b.size > maxResponse {
		return fmt.Errorf("%w: a literal of %d bytes that is not a message", errTooLong, n)
	}
	return nil
}

// kindOf tells a response by its first line.
func kindOf(line []byte) responseKind {
	rest, ok := bytes.CutPrefix(line, []byte("* "))
	if !ok {
		if bytes.HasPrefix(line, []byte("+")) {
			return untagged
		}
		return tagged
	}
	word, _, _ := bytes.Cut(bytes.TrimRight(rest, "\r\n"), []byte(" "))
	switch {
	case bytes.EqualFold(word, []byte("SEARCH")):
		return searchData
	case bytes.EqualFold(word, []byte("CAPABILITY")):
		return capabilityData
	}
	digits := len(word) > 0
	for _, c := range word {
		digits = digits && c >= '0' && c <= '9'
	}
	after := rest[len(word):]
	if digits && len(after) > 6 && bytes.EqualFold(after[:6], []byte(" FETCH")) && (after[6] == ' ' || after[6] == '(') {
		return fetchData
	}
	return untagged
}

// capsScan spots a "(" in a capability list, "* CAPABILITY ..." or a
// "[CAPABILITY ...]" code, which go-imap (v2.0.0-beta.8) reads with
// "for dec.SP() {}": its SP accepts a "(" without consuming it, so the
// loop, and the connection's reader with it, spins for ever, past every
// timeout.
type capsScan struct {
	in    bool // inside a capability list
	toEOL bool // which ends at the line's end, not at "]"
	match int  // bytes of "[CAPABILITY" just passed, outside one
}

const capabilityCode = "[CAPABILITY"

// paren scans the next chunk of a response's lines.
func (c *capsScan) paren(chunk []byte) bool {
	for _, b := range chunk {
		switch {
		case c.in && b == '(':
			return true
		case c.in && (b == '\n' || b == ']' && !c.toEOL):
			c.in = false
		case c.in:
		case b == capabilityCode[c.match]:
			c.match++
			if c.match == len(capabilityCode) {
				c.in, c.toEOL, c.match = true, false, 0
			}
		case b == '[':
			c.match = 1
		default:
			c.match = 0
		}
	}
	return false
}

// messageLiteral reports whether the literal announced at the end of tail
// is a message section: "BODY[...] {n}", "BODY[...]<origin> {n}" or
// "BINARY[...] ~{n}", which go-imap streams.
func messageLiteral(tail []byte) bool {
	open := bytes.LastIndexByte(tail, '{')
	if open < 0 {
		return false
	}
	before := bytes.TrimSuffix(bytes.TrimSuffix(tail[:open], []byte("~")), []byte(" "))
	if origin, ok := bytes.CutSuffix(before, []byte(">")); ok {
		lt := bytes.LastIndexByte(origin, '<')
		if lt < 0 {
			return false
		}
		before = origin[:lt]
	}
	return bytes.HasSuffix(before, []byte("]"))
}

// newLineReader returns a reader of r for readLine.
func newLineReader(r io.Reader) *bufio.Reader {
	return bufio.NewReaderSize(r, maxLine)
}

// readLine reads a line, ending in LF, of at most maxLine bytes from r,
// made by newLineReader: what mailtask reads of the server's stream before
// go-imap does.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("%w: a line longer than %d KB", errTooLong, maxLine>>10)
	}
	if err != nil {
		return nil, err
	}
	return bytes.Clone(line), nil
}
