package pop3

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
)

// Login authenticates with USER and PASS.
func (c *Client) Login(ctx context.Context, user, pass string) error {
	if _, err := c.cmd(ctx, "USER "+user); err != nil {
		return err
	}
	_, err := c.cmdShown(ctx, "PASS "+pass, "PASS")
	return err
}

// Authenticate runs AUTH with mech. The initial response is always sent
// in a second step, after the server's "+ " (Exchange Online refuses it on
// the AUTH line for XOAUTH2; RFC 5034 allows both). A challenge the
// mechanism cannot answer after its response is a failure challenge, as
// XOAUTH2 and OAUTHBEARER send with a JSON status: it is acknowledged as
// those mechanisms require and its text lands in the returned
// ServerError's Challenge.
func (c *Client) Authenticate(ctx context.Context, mech sasl.Client) error {
	name, ir, err := mech.Start()
	if err != nil {
		return fmt.Errorf("pop3 %s: AUTH: %w", c.addr, err)
	}
	shown := "AUTH " + name
	release, err := c.begin(ctx, shown)
	if err != nil {
		return err
	}
	defer release()
	if err := c.authenticate(mech, name, ir, shown); err != nil {
		return c.fail(ctx, shown, err)
	}
	return nil
}

func (c *Client) authenticate(mech sasl.Client, name string, ir []byte, shown string) error {
	if err := c.send(shown); err != nil {
		return err
	}
	irPending := ir != nil
	var challenge string // the last one the mechanism could not answer
	for round := 0; ; round++ {
		if round == maxAuthRounds {
			return &protocolError{fmt.Sprintf("%s: server still challenging after %d rounds", shown, round)}
		}
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if _, ok := status(line, "+OK"); ok {
			return nil
		}
		if text, ok := status(line, "-ERR"); ok {
			return &ServerError{Command: shown, Text: text, Challenge: challenge}
		}
		if len(line) == 0 || line[0] != '+' || (len(line) > 1 && line[1] != ' ') {
			return unexpected(line)
		}
		data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(line[1:])))
		if err != nil {
			// Cancel (RFC 5034) rather than guess; the server answers -ERR.
			if err := c.send("*"); err != nil {
				return err
			}
			challenge = fmt.Sprintf("invalid base64 %q", line)
			continue
		}
		var resp []byte
		switch {
		case irPending:
			resp, irPending = ir, false
		default:
			resp, err = mech.Next(data)
			// A mechanism with nothing to answer is facing a failure
			// challenge, whose text explains the -ERR that follows.
			if err != nil || len(resp) == 0 {
				challenge = string(data)
			}
			if err != nil {
				resp = failureAck(name)
			}
		}
		if err := c.send(base64.StdEncoding.EncodeToString(resp)); err != nil {
			return err
		}
	}
}

// maxAuthRounds bounds an AUTH exchange; real mechanisms need two or
// three.
const maxAuthRounds = 10

// failureAck is the response that lets the server finish after a failure
// challenge: RFC 7628 wants a single ^A for OAUTHBEARER; XOAUTH2 (Google,
// Microsoft) wants an empty line.
func failureAck(mech string) []byte {
	if strings.EqualFold(mech, sasl.OAuthBearer) {
		return []byte{0x01}
	}
	return nil
}
