package imap

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"
)

// codeFilter rewrites the response codes of status responses that go-imap
// cannot parse into ones it can. Exchange Online completes commands, even
// successful ones, with codes such as
//
//	A1 OK [Error="..." Proxy=host:1993:SSL] AUTHENTICATE completed.
//
// where go-imap reads the atom `Error=`, finds a quote where it wants a
// space or "]", and closes the connection: a login the server accepted
// fails. The filter turns such a code into the text of the response,
// behind the code UNPARSEABLE:
//
//	A1 OK [UNPARSEABLE] Error="..." Proxy=host:1993:SSL AUTHENTICATE completed.
//
// so the status counts, and a NO still says what the server said.
//
// Only the first line of a response is looked at, never literal data: the
// filter tracks {n} literals and passes their bytes through untouched, so a
// message quoting such a line arrives as sent. A line longer than the
// filter's buffer is passed through unexamined.
//
// Tracking lines and literals, the filter also bounds what go-imap would
// hold in memory (wireBounds, wire.go).
type codeFilter struct {
	net.Conn
	r       *bufio.Reader
	pending []byte // output not yet returned by Read
	literal int64  // literal bytes still to pass through
	inLine  bool   // the current line's start has been passed on
	tail    []byte // the end of the current line, to spot a literal
	line    []byte // backs pending
	err     error  // a read error to report once pending is drained
	// readErr is err for Write, which runs in another goroutine.
	readErr atomic.Pointer[error]
	bounds  wireBounds
	// bye is the text of the server's last untagged BYE (noteBye).
	bye atomic.Pointer[string]
}

// unparseableCode replaces response codes go-imap cannot parse.
const unparseableCode = "UNPARSEABLE"

// codeFilterBuffer bounds the status lines the filter can rewrite; real
// ones are a few hundred bytes.
const codeFilterBuffer = 16 << 10

func newCodeFilter(c net.Conn) *codeFilter {
	return &codeFilter{Conn: c, r: bufio.NewReaderSize(c, codeFilterBuffer)}
}

func (f *codeFilter) Read(p []byte) (int, error) {
	for len(f.pending) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		if f.literal > 0 {
			if int64(len(p)) > f.literal {
				p = p[:f.literal]
			}
			n, err := f.r.Read(p)
			f.literal -= int64(n)
			return n, err
		}
		f.next()
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

// Write reports a write to the connection closed after a failed read as
// that read's error. go-imap closes the connection when a response cannot
// be read and then fails the pending commands with that error, but it
// closes first: a command written in that moment fails with "use of closed
// network connection", and go-imap may fail every pending command with
// that instead. Such a write is common, as go-imap sends CAPABILITY from a
// goroutine of its own after a login, beside the session's next command.
func (f *codeFilter) Write(p []byte) (int, error) {
	n, err := f.Conn.Write(p)
	if errors.Is(err, net.ErrClosed) {
		if cause := f.readErr.Load(); cause != nil {
			return n, *cause
		}
	}
	return n, err
}

// fail ends reading with err, once pending is drained.
func (f *codeFilter) fail(err error) {
	f.err = err
	f.readErr.Store(&err)
}

// next reads the next line, or the next buffer's worth of a long one, into
// pending.
func (f *codeFilter) next() {
	chunk, err := f.r.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		f.fail(err)
	}
	if berr := f.bounds.line(chunk, !f.inLine); berr != nil {
		f.fail(berr)
		return
	}
	// ReadSlice's slice is valid only until the next read; line is free
	// again because pending has been drained.
	f.line = append(f.line[:0], chunk...)
	out := f.line
	complete := err == nil
	if complete && !f.inLine {
		out = fixStatusCode(out)
		f.noteBye(out)
	}
	if complete && f.bounds.kind == fetchData {
		out = dropPartialCount(out)
	}
	f.pending = out
	f.tail = append(f.tail, chunk...)
	if len(f.tail) > tailSize {
		f.tail = append(f.tail[:0], f.tail[len(f.tail)-tailSize:]...)
	}
	if !complete {
		f.inLine = true
		return
	}
	// A line that announces a literal continues after its data.
	n, ok := literalAtEnd(f.tail)
	if ok {
		if berr := f.bounds.literal(n, f.tail); berr != nil {
			// go-imap reads the line, then fails on the literal.
			f.fail(berr)
			n = 0
		}
	}
	f.literal, f.inLine = n, ok
	f.tail = f.tail[:0]
}

// noteBye keeps the text of an untagged BYE, which go-imap reads and
// drops, failing the commands pending with a bare end of stream: the
// reason a server gives for ending the session (Gmail's "* BYE
// [OVERQUOTA] Account exceeded command or bandwidth limits.") is then
// lost, and with it what the failure was (Session.endedBy).
func (f *codeFilter) noteBye(line []byte) {
	rest, ok := bytes.CutPrefix(line, []byte("* "))
	if !ok || len(rest) < len("BYE") || !bytes.EqualFold(rest[:len("BYE")], []byte("BYE")) {
		return
	}
	text := string(bytes.TrimSpace(rest))
	if len(text) > byeText {
		text = text[:byeText]
	}
	f.bye.Store(&text)
}

// byeText bounds the BYE text kept: real ones are a line of prose.
const byeText = 512

// tailSize is as much of a line's end as the filter keeps to read the
// literal it announces and what precedes it ("BODY[]<4294967295> ~{n}").
const tailSize = 64

// literalAtEnd reports the size of the literal that line, ending in CRLF,
// announces ({n} or the non-synchronising {n+}).
func literalAtEnd(line []byte) (int64, bool) {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if !bytes.HasSuffix(line, []byte("}")) {
		return 0, false
	}
	open := bytes.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	digits := bytes.TrimSuffix(line[open+1:len(line)-1], []byte("+"))
	n, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// dropPartialCount rewrites the section of a FETCH line that announces
// a message literal, "BODY[HEADER]<0.1048577> {n}", into
// "BODY[HEADER]<0> {n}", and returns any other line unchanged. RFC 3501
// has a server answer a partial fetch with the origin octet alone;
// WildDuck before 2017 echoed the octet count too, on which go-imap fails
// the whole FETCH ("expected '>'"), so that a header rule's fetch of
// every message failed, run after run.
func dropPartialCount(line []byte) []byte {
	body := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	open := bytes.LastIndexByte(body, '{')
	if open < 0 || !bytes.HasSuffix(body, []byte("}")) {
		return line
	}
	before := bytes.TrimSuffix(bytes.TrimSuffix(body[:open], []byte("~")), []byte(" "))
	partial, ok := bytes.CutSuffix(before, []byte(">"))
	lt := bytes.LastIndexByte(partial, '<')
	if !ok || lt < 1 || partial[lt-1] != ']' {
		return line
	}
	origin, count, ok := bytes.Cut(partial[lt+1:], []byte("."))
	if !ok || !digits(origin) || !digits(count) {
		return line
	}
	out := make([]byte, 0, len(line))
	out = append(out, line[:lt+1+len(origin)]...)
	return append(out, line[len(partial):]...)
}

// digits reports whether b is a non-empty run of ASCII digits.
func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

var statusWords = [][]byte{[]byte("OK"), []byte("NO"), []byte("BAD"), []byte("BYE"), []byte("PREAUTH")}

// fixStatusCode rewrites the response code of a status response line
// ("tag OK [code] text") when go-imap could not parse it, and returns any
// other line unchanged.
func fixStatusCode(line []byte) []byte {
	tag, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(tag) == 0 {
		return line
	}
	word, rest, ok := bytes.Cut(rest, []byte(" "))
	if !ok || !bytes.HasPrefix(rest, []byte("[")) {
		return line
	}
	known := false
	for _, w := range statusWords {
		known = known || bytes.EqualFold(word, w)
	}
	if !known {
		return line
	}
	code := rest[1:]
	atom := 0
	for atom < len(code) && isAtomChar(code[atom]) {
		atom++
	}
	if atom > 0 && atom < len(code) && (code[atom] == ' ' || code[atom] == ']') {
		return line // parseable already
	}
	// Find the "]" that ends the code, outside quoted strings.
	end, quoted := -1, false
	for i := atom; i < len(code) && end < 0; i++ {
		switch c := code[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ']' && !quoted:
			end = i
		case c == '\r' || c == '\n':
			return line // no end: leave it to go-imap
		}
	}
	if end < 0 {
		return line
	}
	out := make([]byte, 0, len(line)+len(unparseableCode)+2)
	out = append(out, line[:len(line)-len(code)]...)
	out = append(out, unparseableCode+"] "...)
	out = append(out, code[:end]...)
	return append(out, code[end+1:]...)
}

// isAtomChar is RFC 3501's ATOM-CHAR, as go-imap reads it, less "]"
// (resp-specials) which ends a response code.
func isAtomChar(c byte) bool {
	switch c {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']':
		return false
	}
	return c > 0x1f && c < 0x7f
}

// unparseable reports whether err is a refusal whose code the filter had
// to rewrite. Exchange sends such codes (Error="...WrongServerException",
// proxy failures) for trouble in its back end, which the next attempt
// usually does not meet.
func unparseable(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie) && ie.Code == unparseableCode
}
