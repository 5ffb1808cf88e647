package extract

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	"github.com/jhillyerd/enmime/v2"
)

// ErrUnparseable is wrapped by Parse's error when a message cannot be used at
// all; the pipeline quarantines such a message instead of retrying it.
var ErrUnparseable = errors.New("message is not a parseable mail")

// Message is what the pipeline needs of one parsed message.
type Message struct {
	From      string    // first From address, "" if none (addr only, e.g. "a@b.example")
	To, Cc    []string  // addresses
	Subject   string    // decoded
	MessageID string    // without <>
	Date      time.Time // zero if missing/unparseable
	Files     []File    // attachments, in MIME order
	Problems  []string  // enmime Envelope.Errors / warnings, human-readable
	// Header holds the top-level header fields by canonical name, values
	// RFC 2047-decoded; Text and HTML the first body of each kind,
	// decoded to UTF-8 ("" when there is none). See body.go.
	Header     map[string][]string
	Text, HTML string
	// parts counts the MIME parts of the message, and those of the
	// attached messages and winmail.dat files opened by ExpandNested and
	// ExpandTNEF, which together may not exceed maxParts.
	parts int
}

// maxPartProblems bounds the defects kept per MIME part, so a hostile message
// cannot turn its Problems into the largest thing in memory.
const maxPartProblems = 10

// Parse reads a whole message into memory and parses it. It returns an
// error wrapping ErrUnparseable only when the message is unusable (e.g.
// enmime fails outright, it is not a mail at all: no header, or its MIME
// shape exceeds maxParts or maxDepth); recoverable defects go to Problems.
// An error reading r does not wrap ErrUnparseable: the message may be fine.
func Parse(r io.Reader) (*Message, error) {
	raw, err := readMessage(r)
	if err != nil {
		return nil, fmt.Errorf("reading message: %w", err)
	}
	return ParseBytes(raw)
}

// ParseBytes parses the message held in raw, as Parse does, without
// copying it: the Message and its Files may refer to raw, which must not
// change while they are in use. The File of a large base64 body decodes
// it from raw as it is read.
func ParseBytes(raw []byte) (*Message, error) {
	return parse(textOf(raw))
}

// ParseAt parses the message of size bytes stored in r, as Parse does, but
// without holding it in memory: enmime sees the message with the bodies of
// large attachments left out (elide.go), and the Files of those bodies read
// and decode them from r when opened, so r must stay readable until they
// have been written. Memory then does not grow with the size of the
// message, except for what enmime must see: a body's "--"s and the bytes
// around them, so only a body with one every kilobyte or so is held whole.
func ParseAt(r io.ReaderAt, size int64) (*Message, error) {
	return parse(textAt(r, size))
}

func parse(t *text) (*Message, error) {
	return parseNested(t, 0)
}

// parseNested parses a message nested depth deep in the one the pipeline
// fetched (0: that one).
func parseNested(t *text, depth int) (msg *Message, err error) {
	// enmime is fed untrusted bytes; a bug in it must cost one quarantined
	// message, not the whole task run.
	defer func() {
		if v := recover(); v != nil {
			msg, err = nil, fmt.Errorf("%w: parser panic: %v", ErrUnparseable, v)
		}
	}()
	defer func() {
		if t.err != nil {
			msg, err = nil, fmt.Errorf("reading message: %w", t.err)
		}
	}()
	start, leading := leadingLines(t)
	if start > 0 && t.err == nil {
		t = t.after(start)
	}
	sh, err := scanShape(t)
	if err != nil {
		return nil, err
	}
	env, elided, err := readEnvelope(t, sh)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnparseable, err)
	}
	if len(env.GetHeaderKeys()) == 0 {
		return nil, fmt.Errorf("%w: no header fields", ErrUnparseable)
	}

	m := &Message{
		Subject:   headerValue(env, "Subject"),
		MessageID: messageID(env.GetHeader("Message-Id")),
		Problems:  leading,
		parts:     sh.parts,
	}
	for _, e := range env.Errors {
		// Raw-content mode leaves HTML bodies unconverted on purpose; that
		// is not a defect of the message.
		if e.Name == enmime.ErrorPlainTextFromHTML {
			continue
		}
		m.Problems = append(m.Problems, e.Error())
	}
	if from := m.addresses(env, "From"); len(from) > 0 {
		m.From = from[0]
	}
	m.To = m.addresses(env, "To")
	m.Cc = m.addresses(env, "Cc")
	m.Date = m.date(env)
	m.Header = headers(env)
	parts := &parts{t: t, elided: elided}
	m.Text, m.HTML = bodies(env, parts)
	m.Files = m.files(env, parts, depth)
	return m, nil
}

// parts gives the content of the parts of a parsed message.
type parts struct {
	t      *text
	elided map[*enmime.Part]span // parts whose content enmime did not see
}

// content is at most the first limit bytes of p's content, undecoded.
func (ps *parts) content(p *enmime.Part, limit int) []byte {
	if s, ok := ps.elided[p]; ok {
		return ps.t.read(s.start, s.start+min(s.end-s.start, limit))
	}
	return p.Content[:min(len(p.Content), limit)]
}

// readMessage reads all of r into one buffer sized up front when r knows
// its size (bytes.Reader, io.SectionReader): io.ReadAll's growing and
// copying cost as much as parsing.
func readMessage(r io.Reader) ([]byte, error) {
	var size int64
	switch r := r.(type) {
	case interface{ Len() int }:
		size = int64(r.Len())
	case interface{ Size() int64 }:
		size = r.Size()
	}
	var b bytes.Buffer
	b.Grow(int(min(max(size, 0), 1<<30)) + bytes.MinRead) // a hint, not a promise
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

// opened counts n parts of files a message holds, once they are opened,
// and fails when the message then has more than maxParts: opening
// attached messages and winmail.dat files must not bypass the limit (a
// message of 1.6 MB made 15,000 files).
func (m *Message) opened(n int, what string) error {
	if m.parts += n; m.parts > maxParts {
		return fmt.Errorf("%w: more than %d MIME parts, counting those of the %s it holds", ErrUnparseable, maxParts, what)
	}
	return nil
}

func (m *Message) problemf(format string, args ...any) {
	m.Problems = append(m.Problems, fmt.Sprintf(format, args...))
}

// addresses returns the bare addresses of header key; a header that is
// present but unparseable becomes a problem, not an error, because the
// attachments are still worth having. A display name in raw 8-bit bytes
// is read as headerText reads them: the parser refuses bytes that are not
// UTF-8, and the address would be lost.
func (m *Message) addresses(env *enmime.Envelope, key string) []string {
	if env.GetHeader(key) == "" {
		return nil
	}
	list, err := enmime.ParseAddressList(headerText(env.Root.Header.Get(key)))
	if err != nil {
		if !errors.Is(err, mail.ErrHeaderNotPresent) {
			m.problemf("%s header %q: %v", key, env.GetHeader(key), err)
		}
		return nil
	}
	var out []string
	for _, a := range list {
		out = append(out, a.Address)
	}
	return out
}

func (m *Message) date(env *enmime.Envelope) time.Time {
	if env.GetHeader("Date") == "" {
		return time.Time{}
	}
	t, err := env.Date()
	if err != nil {
		m.problemf("Date header %q: %v", env.GetHeader("Date"), err)
		return time.Time{}
	}
	return t
}

// messageID takes the id out of its angle brackets, ignoring any comment or
// second id some mailers append.
func messageID(h string) string {
	h = strings.TrimSpace(h)
	if i := strings.IndexByte(h, '<'); i >= 0 {
		if j := strings.IndexByte(h[i:], '>'); j > 0 {
			return strings.TrimSpace(h[i+1 : i+j])
		}
	}
	return h
}
