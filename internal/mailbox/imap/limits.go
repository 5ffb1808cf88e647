package imap

import (
	"io"

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

// deliver hands lit, m's literal, to deliver, unless the server announced
// it larger than a message may be: then the connection is closed, since
// the server would go on sending it and nothing else can be read before
// its end, and a *mailbox.TooLargeError is returned. On an error cmd is
// closed.
func (s *Session) deliver(cmd *imapclient.FetchCommand, m mailbox.Message, lit imap.LiteralReader, deliver func(mailbox.Message, io.Reader, int64) error) error {
	if size := lit.Size(); size > s.maxSize {
		s.conn.Close()
		cmd.Close()
		return &mailbox.Error{Step: mailbox.StepFetch, Addr: s.addr, Err: &mailbox.TooLargeError{Msg: m, Size: size, Limit: s.maxSize}}
	}
	if err := deliver(m, lit, lit.Size()); err != nil {
		cmd.Close()
		return err
	}
	return nil
}
