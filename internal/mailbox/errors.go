package mailbox

import (
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Step names the stage of a session at which something failed; an admin
// reads it first ("login failed" and "connect failed" have different fixes).
type Step string

const (
	StepConnect Step = "connect"
	StepTLS     Step = "TLS"
	StepLogin   Step = "login"
	StepSelect  Step = "select"
	StepList    Step = "list"
	StepFetch   Step = "fetch"
	StepAfter   Step = "after-action"
	StepLogout  Step = "logout"
	StepIdle    Step = "IDLE"
)

// Error is a failed step of a mailbox session. It never carries a secret:
// only the address, the user name and the server's or system's reply.
type Error struct {
	Step Step
	Addr string // host:port
	User string // with StepLogin
	Err  error
	// Transient marks failures worth retrying as they are (a dropped
	// connection, a timeout, a message the server left out).
	Transient bool
	// RetryAfter is how long the server asked to be left alone before the
	// next attempt (POP3's LOGIN-DELAY), 0 if it did not say.
	RetryAfter time.Duration
}

// Error holds the server's words escaped (Printable): they end up on
// terminals.
func (e *Error) Error() string {
	switch {
	case e.User != "":
		return Printable(fmt.Sprintf("%s to %s as %s failed: %v", e.Step, e.Addr, e.User, e.Err))
	default:
		return Printable(fmt.Sprintf("%s to %s failed: %v", e.Step, e.Addr, e.Err))
	}
}

func (e *Error) Unwrap() error { return e.Err }

// ServerHost is the server's host name as configured, for hints that hold
// only for some servers.
func (e *Error) ServerHost() string {
	if host, _, err := net.SplitHostPort(e.Addr); err == nil {
		return host
	}
	return e.Addr
}

// RetryAfter returns how long the server that failed err asked to be left
// alone, 0 if it did not say: the session's word for it (POP3's
// LOGIN-DELAY), or Exchange's "Request is throttled. Suggested Backoff
// Time: N milliseconds".
func RetryAfter(err error) time.Duration {
	var me *Error
	if !errors.As(err, &me) {
		return 0
	}
	if me.RetryAfter > 0 || me.Err == nil {
		return me.RetryAfter
	}
	if m := suggestedBackoff.FindStringSubmatch(me.Err.Error()); m != nil {
		if ms, err := strconv.ParseInt(m[1], 10, 64); err == nil && ms <= maxSuggestedBackoff.Milliseconds() {
			return time.Duration(ms) * time.Millisecond
		}
		return maxSuggestedBackoff
	}
	return 0
}

// suggestedBackoff finds the wait Exchange Online asks for when it
// throttles a mailbox.
var suggestedBackoff = regexp.MustCompile(`(?i)suggested backoff time: (\d+) milliseconds`)

// maxSuggestedBackoff bounds the wait taken from a server's words: Exchange
// asks for up to about 5 minutes.
const maxSuggestedBackoff = 15 * time.Minute

// IsTransient reports whether err is worth retrying unchanged: network
// failures and timeouts are, and so are replies in which the server says
// "not now" (NotNow: too many connections, throttling, busy or briefly
// unavailable); a refused login or a missing folder are not.
func IsTransient(err error) bool {
	var me *Error
	if errors.As(err, &me) && me.Transient {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, errno := range transientErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	if me == nil {
		// Only a session's failures are judged by their text: elsewhere
		// (a state file, a destination) the same words mean something else.
		return false
	}
	var oe *net.OpError
	if errors.As(err, &oe) && (me.Step == StepConnect || me.Step == StepFetch) {
		return true
	}
	// A connection the server dropped or the client closed after a reply it
	// could not parse (Exchange's unknown [Error="..."] codes do that).
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	return NotNow(err) || me.Err != nil && says(me.Err.Error(), transientReplies)
}

// transientErrnos are network failures that a later attempt may not meet.
var transientErrnos = []error{
	syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
	syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN,
}

// NotNow reports whether err is a server saying "not now" to the account
// rather than "no" to it or to a message: the mailbox has more
// connections than the server allows, a POP3 maildrop is in use by
// another session, a rate or bandwidth budget is spent, or the server is
// busy or briefly unavailable (notNowReplies). Such a refusal passes:
// it is worth retrying later, and it says nothing about the password,
// the folder or the message it came during.
func NotNow(err error) bool {
	var me *Error
	if !errors.As(err, &me) || me.Err == nil {
		// Only a session's failures are judged by their text: elsewhere
		// (a state file, a destination) the same words mean something else.
		return false
	}
	return NotNowReply(me.Err.Error())
}

// NotNowReply reports whether reply, a server's words, says "not now"
// (NotNow).
func NotNowReply(reply string) bool { return says(reply, notNowReplies) }

// says reports whether text holds any of markers, which are lower case.
func says(text string, markers []string) bool {
	text = strings.ToLower(text)
	return slices.ContainsFunc(markers, func(m string) bool { return strings.Contains(text, m) })
}

// notNowReplies are, lower-cased, what servers say when they will not
// serve the account now, for a reason that passes and is the account's or
// the server's, never one message's. Each is a server's own words, as it
// sends them:
//
//   - too many connections to the mailbox at once: RFC 5530's [LIMIT] and
//     [INUSE] and RFC 2449's [IN-USE]; Dovecot's "NO [LIMIT] Maximum number
//     of connections from user+IP exceeded (mail_max_userip_connections=N)"
//     (POP3: "-ERR [IN-USE] ..."), and its POP3 "-ERR [IN-USE] Mailbox is
//     locked by another POP3 session."; Gmail's "NO [ALERT] Too many
//     simultaneous connections. (Failure)"; Exchange's "User is
//     authenticated but not connected.", which it also says to a user
//     without access to the mailbox: retried, that costs a few attempts
//     before the run fails with the hint for it;
//   - a budget spent: Gmail's "[OVERQUOTA] Account exceeded command or
//     bandwidth limits." (its daily IMAP download limit), Yahoo's "NO
//     [LIMIT] ... Rate limit hit.", Exchange's "Request is throttled.
//     Suggested Backoff Time: N milliseconds", RFC 2449's [LOGIN-DELAY];
//   - the server busy or down: RFC 5530's [UNAVAILABLE] (Dovecot's
//     "Temporary authentication failure."), Exchange's "Server
//     Unavailable. 15" (IMAP) and "-ERR Server Unavailable. 21" (POP3,
//     also to a RETR), RFC 3206's [SYS/TEMP], and the words of others;
//   - the session ended for a reason of the server's or the account's,
//     in the BYE (POP3: the -ERR) sent before closing the connection:
//     Dovecot's "Server shutting down." and "Disconnected for
//     inactivity.", Exchange's "Session invalidated - AccessTokenExpired"
//     (the token the session signed in with expired: the next sign-in
//     takes a new one).
var notNowReplies = []string{
	"[limit]", "[inuse]", "[in-use]",
	"maximum number of connections", "too many simultaneous connections", "user is authenticated but not connected",
	"exceeded command or bandwidth limits", "rate limit", "throttl", "[login-delay]",
	"[unavailable]", "[sys/temp]", "server unavailable", "server busy", "try again later", "temporarily unavailable",
	"server shutting down", "disconnected for inactivity", "session invalidated",
}

// transientReplies are, lower-cased, what else a session's failure may say
// that is worth retrying: IMAP's [SERVERBUG] (RFC 5530), and the go-imap
// client's complaint about a reply it could not parse, after which it
// closes the connection.
var transientReplies = []string{"[serverbug]", "in resp-text", "in response:"}

// NotDeliveredError is a fetch the server completed without some of the
// messages asked for: it left them out (an IMAP FETCH without their
// body) or refused them (a POP3 -ERR to RETR). Those it delivered were
// delivered whole, and the session still works. Nothing is lost: the
// messages are asked for again.
type NotDeliveredError struct {
	Msgs []Message
	// Reply is the server's refusal of the first, if it said anything.
	Reply error
}

func (e *NotDeliveredError) Error() string {
	if e.Reply != nil {
		return fmt.Sprintf("the server did not deliver %s: %v", keys(e.Msgs), e.Reply)
	}
	return fmt.Sprintf("the server did not deliver %s, but completed the fetch without them", keys(e.Msgs))
}

// RefusedError is an after-action the server refused (an IMAP tagged NO or
// BAD, a POP3 -ERR) for Msgs; the other messages Apply was given have it
// done. Refused messages stay due: nothing is lost, and the next run
// tries again.
type RefusedError struct {
	Action string // the config.After* value
	Msgs   []Message
	// Copied says that the server confirmed the copy of Msgs to the move
	// folder and refused only their removal from this one, which alone
	// stays due.
	Copied bool
	Err    error // an *Error of StepAfter, with the server's reply
}

func (e *RefusedError) Error() string {
	what := fmt.Sprintf("after = %q", e.Action)
	if e.Copied {
		what = fmt.Sprintf("the removal of the messages after = %q copied", e.Action)
	}
	return fmt.Sprintf("the server refused %s for %d message(s) (%s): %v", what, len(e.Msgs), keys(e.Msgs), e.Err)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// keys names up to a few messages.
func keys(msgs []Message) string {
	const show = 5
	var b strings.Builder
	for i, m := range msgs {
		if i == show {
			fmt.Fprintf(&b, " and %d more", len(msgs)-show)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.Key())
	}
	return b.String()
}
