package pop3

import (
	"context"
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
		tooLarge := func() error { return &mailbox.TooLargeError{Msg: m, Size: limit + 1, Limit: limit} }
		return deliver(m, &capped{r: body, left: limit, stop: s.c.Close, over: tooLarge})
	}, messageCommand)
	if err == nil && tooLarge != nil {
		err = &mailbox.Error{Step: mailbox.StepFetch, Addr: s.addr, Err: &mailbox.TooLargeError{Msg: *tooLarge, Size: tooLarge.Size, Limit: limit}}
	}
	return err
}

// capped is a reply that fails with over() once more than left bytes of
// it arrived, closing the connection (stop): the rest is not read.
type capped struct {
	r    io.Reader
	left int64
	stop func() error
	over func() error
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, c.over()
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		_ = c.stop()
		return n + int(c.left), c.over()
	}
	return n, err
}
