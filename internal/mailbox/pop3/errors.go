package pop3

import (
	"errors"
	"fmt"
	"strings"

	"mailtask/internal/mailbox"
)

// ServerError is a -ERR reply. Command is what was refused, without
// secrets: "PASS", never its argument; "AUTH XOAUTH2", never the blob.
type ServerError struct {
	Command string
	Text    string // the server's words after "-ERR", response codes such as [AUTH] included
	// Challenge is the decoded SASL failure challenge the server sent
	// before refusing AUTH (Exchange's {"status":"401",...}), if any.
	Challenge string
}

func (e *ServerError) Error() string {
	if e.Challenge != "" {
		return mailbox.Printable(fmt.Sprintf("%s refused: %s (server challenge: %s)", e.Command, e.Text, e.Challenge))
	}
	return mailbox.Printable(fmt.Sprintf("%s refused: %s", e.Command, e.Text))
}

// ofMessage reports whether the refusal is of the message the command
// named rather than of the session: one without a response code of the
// mailbox or the system (RFC 3206's SYS/TEMP, SYS/PERM; RFC 2449's IN-USE,
// LOGIN-DELAY, AUTH), which say that the other messages fare no better,
// and without a server's "not now" in words (Exchange's "-ERR Server
// Unavailable. 21", which it sends to a RETR now and then), which says
// nothing about the message.
func (e *ServerError) ofMessage() bool {
	for _, code := range []string{"[SYS/", "[IN-USE]", "[LOGIN-DELAY]", "[AUTH]"} {
		if strings.HasPrefix(strings.ToUpper(e.Text), code) {
			return false
		}
	}
	return !mailbox.NotNowReply(e.Text)
}

// ErrNoUIDL is returned (through errors.Is) by UIDLAll when the server does
// not implement UIDL: without unique IDs a task cannot tell new messages
// from those it already took.
var ErrNoUIDL = errors.New("server does not support UIDL, so messages cannot be tracked between runs")

// ErrNoPlaintext is returned (through errors.Is) when a server takes no
// password over a connection without TLS; none was sent.
var ErrNoPlaintext = errors.New(`the server offers no USER/PASS over this unencrypted connection (its CAPA lists STLS but not USER), so no password was sent; use tls = "starttls" (port 110) or tls = "implicit" (port 995)`)
