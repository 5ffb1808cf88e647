package pop3

import (
	"context"
	"fmt"
	"io"

	"mailtask/internal/mailbox"
)

var _ mailbox.SizeLimiter = (*Session)(nil)

// LimitMessageSize makes Fetch refuse a message larger than limit
// (mailbox.SizeLimiter): one LIST announces larger is not asked for, and
// one the server sends larger than it announced stops there, the
// connection closed.
func (s *Session) LimitMessageSize(limit int64) {
	s.maxSize = limit
}

// fetchWithin fetches msgs up to the first LIST announces larger than the
// limit, which it then refuses with a *mailbox.TooLargeError; it bounds
// each message's stream by the limit too.
func (s *Session) fetchWithin(ctx context.Context, msgs []mailbox.Message, deliver func(mailbox.Message, io.Reader) error) error {
	limit := mailbox.EffectiveLimit(s.maxSize)
	var tooLarge *mailbox.Message
	for i, m := range msgs {
		if m.Size > limit {
			msgs, tooLarge = msgs[:i], &m
			break
		}
	}
	err := s.fetchListed(ctx, msgs, func(m mailbox.Message, body io.Reader) error {
		return deliver(m, &cappedBody{r: body, left: limit, m: m, limit: limit, stop: s.c.Close})
	}, messageCommand)
	if err == nil && tooLarge != nil {
		err = &mailbox.Error{Step: mailbox.StepFetch, Addr: s.addr, Err: &mailbox.TooLargeError{Msg: *tooLarge, Size: tooLarge.Size, Limit: limit}}
	}
	return err
}

// cappedBody is a message that fails once more than limit bytes of it
// arrived, closing the connection: the rest is not read.
type cappedBody struct {
	r     io.Reader
	left  int64
	m     mailbox.Message
	limit int64
	stop  func() error
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, &mailbox.TooLargeError{Msg: c.m, Size: c.limit + 1, Limit: c.limit}
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		_ = c.stop()
		return n + int(c.left), &mailbox.TooLargeError{Msg: c.m, Size: c.limit + 1, Limit: c.limit}
	}
	return n, err
}

// boundedReply is a reply that fails once more than left bytes of it
// arrived, closing the connection: the rest is not read.
type boundedReply struct {
	r    io.Reader
	left int64
	cmd  string
	size int64 // as LIST gave it
	stop func() error
}

func (b *boundedReply) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.tooLong()
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		_ = b.stop()
		return n + int(b.left), b.tooLong()
	}
	return n, err
}

func (b *boundedReply) tooLong() error {
	return fmt.Errorf("the server's reply to %s went on past the message's size (%d bytes by LIST) and a MiB more, which no header does; the connection was closed rather than read it to its end", b.cmd, b.size)
}
