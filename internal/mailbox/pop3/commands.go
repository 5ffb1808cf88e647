package pop3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Capabilities returns the CAPA list, keyed by upper-case capability with
// its arguments ("SASL" → ["PLAIN", "XOAUTH2"]); empty if the server
// answers -ERR (it predates RFC 2449).
func (c *Client) Capabilities(ctx context.Context) (map[string][]string, error) {
	caps := map[string][]string{}
	err := c.multiline(ctx, "CAPA", func(line []byte) error {
		if len(caps) == maxCapabilities {
			return &protocolError{fmt.Sprintf("CAPA lists more than %d capabilities", maxCapabilities)}
		}
		f := strings.Fields(string(line))
		if len(f) > 0 {
			caps[strings.ToUpper(f[0])] = f[1:]
		}
		return nil
	})
	var se *ServerError
	if errors.As(err, &se) {
		return caps, nil
	}
	_, c.pipelining = caps["PIPELINING"]
	return caps, err
}

// maxCapabilities bounds a CAPA listing; servers list about ten.
const maxCapabilities = 1000

// Stat returns the number of messages and their total size in octets.
func (c *Client) Stat(ctx context.Context) (count int, size int64, err error) {
	text, err := c.cmd(ctx, "STAT")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(text)
	if len(f) >= 2 {
		count, err = strconv.Atoi(f[0])
		if err == nil {
			size, err = strconv.ParseInt(f[1], 10, 64)
		}
	}
	if len(f) < 2 || err != nil || count < 0 || size < 0 {
		return 0, 0, c.fail(ctx, "STAT", &protocolError{fmt.Sprintf("malformed STAT reply %q", text)})
	}
	return count, size, nil
}

// UIDL is a message number of this session and the message's unique ID,
// which stays the same across sessions.
type UIDL struct {
	Num int
	ID  string
}

// UIDLAll lists the unique IDs of all messages not marked deleted. A line
// naming a number beyond bound, or a number twice, is a protocol error,
// so a listing holds at most bound lines. A server without UIDL yields an
// error matching ErrNoUIDL.
func (c *Client) UIDLAll(ctx context.Context, bound int) ([]UIDL, error) {
	var out []UIDL
	listed := newNumberSet(bound)
	err := c.multiline(ctx, "UIDL", func(line []byte) error {
		num, id, ok := bytes.Cut(line, []byte(" "))
		n, err := strconv.Atoi(string(num))
		if !ok || err != nil || !validUIDL(id) {
			return &protocolError{fmt.Sprintf("malformed UIDL line %q", line)}
		}
		if err := listed.add(n); err != nil {
			return err
		}
		out = append(out, UIDL{Num: n, ID: string(id)})
		return nil
	})
	// A refusal means the server lacks UIDL, unless it says it is a
	// passing or system problem (RFC 3206's SYS/TEMP, SYS/PERM, IN-USE).
	var se *ServerError
	if errors.As(err, &se) && !strings.HasPrefix(se.Text, "[SYS/") && !strings.HasPrefix(se.Text, "[IN-USE]") {
		return nil, fmt.Errorf("%w: %w", err, ErrNoUIDL)
	}
	return out, err
}

// validUIDL checks RFC 1939's 1 to 70 characters in 0x21..0x7E: the IDs
// end up as keys in the state file.
func validUIDL(id []byte) bool {
	if len(id) < 1 || len(id) > 70 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// ListAll returns the size in octets of each message not marked deleted,
// by message number: sizes[n] is message n's, -1 for one not listed
// (marked deleted); sizes ends at the highest number listed. bound bounds
// the numbers as for UIDLAll.
func (c *Client) ListAll(ctx context.Context, bound int) (sizes []int64, err error) {
	sizes = []int64{-1}
	listed := newNumberSet(bound)
	err = c.multiline(ctx, "LIST", func(line []byte) error {
		f := strings.Fields(string(line))
		if len(f) >= 2 {
			n, err1 := strconv.Atoi(f[0])
			size, err2 := strconv.ParseInt(f[1], 10, 64)
			if err1 == nil && err2 == nil && size >= 0 {
				if err := listed.add(n); err != nil {
					return err
				}
				for len(sizes) <= n {
					sizes = append(sizes, -1)
				}
				sizes[n] = size
				return nil
			}
		}
		return &protocolError{fmt.Sprintf("malformed LIST line %q", line)}
	})
	if err != nil {
		return nil, err
	}
	return sizes, nil
}

// numberSet notes the message numbers a listing names: each at most once,
// and none beyond a bound.
type numberSet struct {
	bits  []uint64
	bound int
}

func newNumberSet(bound int) numberSet {
	return numberSet{bits: make([]uint64, bound/64+1), bound: bound}
}

func (s numberSet) add(n int) error {
	if n < 1 || n > s.bound {
		return &protocolError{fmt.Sprintf("message number %d listed, beyond %d", n, s.bound)}
	}
	word, bit := n/64, uint64(1)<<(n%64)
	if s.bits[word]&bit != 0 {
		return &protocolError{fmt.Sprintf("message number %d listed twice", n)}
	}
	s.bits[word] |= bit
	return nil
}

// Dele marks message num deleted; the server removes it only on Quit.
func (c *Client) Dele(ctx context.Context, num int) error {
	if err := checkNum(num); err != nil {
		return err
	}
	_, err := c.cmd(ctx, "DELE "+strconv.Itoa(num))
	return err
}

// Rset unmarks every message marked deleted in this session.
func (c *Client) Rset(ctx context.Context) error {
	_, err := c.cmd(ctx, "RSET")
	return err
}

// Noop asks the server for nothing, to check the connection.
func (c *Client) Noop(ctx context.Context) error {
	_, err := c.cmd(ctx, "NOOP")
	return err
}

func checkNum(num int) error {
	if num < 1 {
		return fmt.Errorf("pop3: message number %d out of range: numbers start at 1", num)
	}
	return nil
}

// multiline sends cmd and feeds each line of a multi-line +OK reply to
// each. A -ERR is returned as a *ServerError.
func (c *Client) multiline(ctx context.Context, cmd string, each func(line []byte) error) error {
	release, err := c.begin(ctx, cmd)
	if err != nil {
		return err
	}
	defer release()
	err = c.turn(cmd)
	if err == nil {
		_, err = c.readStatus(cmd)
	}
	if err == nil {
		err = c.readMultiline(each)
	}
	if err != nil {
		return c.fail(ctx, cmd, err)
	}
	return nil
}
