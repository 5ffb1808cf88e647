package imap

import (
	"fmt"
	"io"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtask/internal/mailbox"
)

var _ mailbox.SizeLimiter = (*Session)(nil)

// LimitMessageSize makes Fetch and FetchHeaders refuse a message whose
// literal the server announces larger than limit (mailbox.SizeLimiter).
func (s *Session) LimitMessageSize(limit int64) {
	s.maxSize = mailbox.EffectiveLimit(limit)
}

// literalLimit is the largest literal a fetch of section may bring:
// max_message_size, or for a part asked for up to a size larger than
// that (a header, mailbox.MaxHeader), that size.
func (s *Session) literalLimit(section *imap.FetchItemBodySection) int64 {
	if section.Partial != nil {
		return max(s.maxSize, section.Partial.Size)
	}
	return s.maxSize
}

// deliver hands lit, m's literal, to deliver, unless the server announced
// it larger than limit (literalLimit): then the connection is closed, since
// the server would go on sending it and nothing else can be read before
// its end, and a *mailbox.TooLargeError is returned. On an error cmd is
// closed.
func (s *Session) deliver(cmd *imapclient.FetchCommand, m mailbox.Message, lit imap.LiteralReader, limit int64, deliver func(mailbox.Message, io.Reader, int64) error) error {
	if size := lit.Size(); size > limit {
		s.conn.Close()
		cmd.Close()
		return s.fail(mailbox.Error{Step: mailbox.StepFetch, Err: &mailbox.TooLargeError{Msg: m, Size: size, Limit: limit}})
	}
	if err := deliver(m, &literal{s: s, m: m, r: lit, left: lit.Size()}, lit.Size()); err != nil {
		cmd.Close()
		return err
	}
	return nil
}

// literal is a message's literal as deliver reads it: a connection that
// ends before its last byte fails it, where imapclient would hand out a
// clean end of stream and the message would look whole.
//
// Any failure reading a literal also lets imapclient's reading goroutine
// go on reading the connection, while the literal, which Next and Close
// of the FETCH go on to drain, reads it too (go-imap v2.0.0-beta.8): so
// on a failure literal closes the connection and waits for that goroutine
// to end before anything reads again.
type literal struct {
	s    *Session
	m    mailbox.Message
	r    io.Reader
	left int64
	err  error
}

// literalCutWait bounds the wait for imapclient's goroutine once the
// connection is closed, which ends it at once.
const literalCutWait = 10 * time.Second

func (l *literal) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if err == nil || err == io.EOF && l.left == 0 {
		return n, err
	}
	if err == io.EOF {
		err = fmt.Errorf("UID %d: the connection ended %d bytes before the end of the message: %w", l.m.UID, l.left, io.ErrUnexpectedEOF)
	}
	l.err = l.s.fail(mailbox.Error{Step: mailbox.StepFetch, Err: err, Transient: true})
	l.s.conn.Close()
	select {
	case <-l.s.client.Closed():
	case <-time.After(literalCutWait):
	}
	return n, l.err
}
