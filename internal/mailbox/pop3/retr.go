package pop3

import (
	"context"
	"fmt"
	"io"
	"strconv"
)

// Retr streams message num exactly as the server holds it: dots unstuffed,
// line endings and 8-bit bytes untouched, never held in memory whole. The
// reader ends at the terminating ".", and must be read to io.EOF or closed
// (Close drains it) before the next command. ctx and the timeout govern
// the whole stream: the timeout counts from the last bytes received.
func (c *Client) Retr(ctx context.Context, num int) (io.ReadCloser, error) {
	if err := checkNum(num); err != nil {
		return nil, err
	}
	return c.stream(ctx, retrCommand(num))
}

func retrCommand(num int) string { return "RETR " + strconv.Itoa(num) }

// Top streams the header of message num, the blank line after it and the
// first lines lines of its body, like Retr.
func (c *Client) Top(ctx context.Context, num, lines int) (io.ReadCloser, error) {
	if err := checkNum(num); err != nil {
		return nil, err
	}
	if lines < 0 {
		return nil, fmt.Errorf("pop3: TOP line count %d is negative", lines)
	}
	return c.stream(ctx, topCommand(num, lines))
}

func topCommand(num, lines int) string { return "TOP " + strconv.Itoa(num) + " " + strconv.Itoa(lines) }

func (c *Client) stream(ctx context.Context, cmd string) (io.ReadCloser, error) {
	release, err := c.begin(ctx, cmd)
	if err != nil {
		return nil, err
	}
	err = c.turn(cmd)
	if err == nil {
		_, err = c.readStatus(cmd)
	}
	if err != nil {
		release()
		return nil, c.fail(ctx, cmd, err)
	}
	b := &bodyReader{c: c, ctx: ctx, cmd: cmd, release: release, dot: newDotReader(c.br, c.src)}
	c.body = b
	return b, nil
}

// bodyReader is a RETR or TOP body in progress; it holds the connection
// until it reaches the end or fails.
type bodyReader struct {
	c       *Client
	ctx     context.Context
	cmd     string
	release func()
	dot     *dotReader
	err     error // sticky: io.EOF once finished
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.dot.Read(p)
	switch {
	case err == io.EOF:
		b.finish(io.EOF)
	case err != nil:
		b.finish(b.c.fail(b.ctx, b.cmd, err))
	}
	return n, b.err
}

func (b *bodyReader) finish(err error) {
	b.err = err
	b.release()
	b.c.body = nil
}

// Close reads and discards the rest of the body, so the connection can go
// on; it fails if that does.
func (b *bodyReader) Close() error {
	if b.err == nil {
		_, _ = io.Copy(io.Discard, b)
	}
	if b.err == io.EOF {
		return nil
	}
	return b.err
}
