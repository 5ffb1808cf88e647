package pop3

import (
	"context"
	"io"
)

// A RETR answered, the server waits for the next command: fetching message
// after message, each would wait a round trip (and a wake-up of both
// ends). Where the server allows it (PIPELINING), Session.Fetch sends the
// RETRs of the next few messages before their turn; Retr then reads the
// reply to the one already sent. Replies nobody asks for, should the
// caller stop early, are read and discarded before the next command, so
// the conversation stays in step.

// Pipelining reports whether the server accepts commands sent before the
// replies to earlier ones (RFC 2449 PIPELINING, as its CAPA said).
func (c *Client) Pipelining() bool { return c.pipelining }

// sendAhead sends cmds, RETRs or TOPs, before their turn, in one write:
// a write per command would cost a system call and a wake-up of the
// server for each.
func (c *Client) sendAhead(ctx context.Context, cmds ...string) error {
	release, err := c.begin(ctx, cmds[0])
	if err != nil {
		return err
	}
	defer release()
	if err := c.send(cmds...); err != nil {
		return c.fail(ctx, cmds[0], err)
	}
	c.ahead = append(c.ahead, cmds...)
	return nil
}

// turn makes it line's turn: if it was sent ahead and is next, there is
// nothing to send; otherwise the replies to what was sent ahead are
// discarded and line is sent.
func (c *Client) turn(line string) error {
	if len(c.ahead) > 0 && c.ahead[0] == line {
		c.ahead = c.ahead[1:]
		return nil
	}
	for len(c.ahead) > 0 {
		cmd := c.ahead[0]
		c.ahead = c.ahead[1:]
		if _, err := c.readStatus(cmd); err != nil {
			if _, ok := err.(*ServerError); ok {
				continue
			}
			return err
		}
		if _, err := io.Copy(io.Discard, newDotReader(c.br, c.src)); err != nil {
			return err
		}
	}
	return c.send(line)
}
