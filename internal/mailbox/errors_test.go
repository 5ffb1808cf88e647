package mailbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestIsTransient(t *testing.T) {
	at := func(step Step, err error) error {
		return &Error{Step: step, Addr: "outlook.office365.com:993", Err: err}
	}
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"marked transient", &Error{Step: StepFetch, Err: errors.New("x"), Transient: true}, true},
		{"connection refused", at(StepConnect, opErr(syscall.ECONNREFUSED)), true},
		{"connection reset", at(StepFetch, opErr(syscall.ECONNRESET)), true},
		{"reset while listing", at(StepList, fmt.Errorf("read: %w", syscall.ECONNRESET)), true},
		{"network unreachable", at(StepConnect, opErr(syscall.ENETUNREACH)), true},
		{"timeout", at(StepList, os.ErrDeadlineExceeded), true},
		{"dropped connection", at(StepSelect, io.ErrUnexpectedEOF), true},
		{"closed after an unparseable reply", at(StepSelect, errors.New(`in resp-text-code: imapwire: expected ']', got "="`)), true},
		{"IMAP UNAVAILABLE", at(StepLogin, errors.New("imap: NO [UNAVAILABLE] Server Unavailable. 15")), true},
		{"Exchange throttling", at(StepFetch, errors.New("imap: BAD Request is throttled. Suggested Backoff Time: 299 milliseconds")), true},
		{"POP3 SYS/TEMP", at(StepLogin, errors.New("-ERR [SYS/TEMP] try again")), true},
		{"POP3 IN-USE", at(StepLogin, errors.New("-ERR [IN-USE] mailbox locked")), true},
		{"Exchange over its connections per mailbox", at(StepLogin, errors.New("imap: NO User is authenticated but not connected.")), true},
		{"Dovecot over mail_max_userip_connections", at(StepLogin, errors.New("imap: NO [LIMIT] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)")), true},
		{"Dovecot POP3 over mail_max_userip_connections", at(StepLogin, errors.New("PASS refused: [IN-USE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)")), true},
		{"Gmail over its connections", at(StepLogin, errors.New("AUTHENTICATE XOAUTH2: imap: NO [ALERT] Too many simultaneous connections. (Failure)")), true},
		{"Gmail bandwidth", at(StepFetch, errors.New("imap: NO [OVERQUOTA] Account exceeded command or bandwidth limits. (Failure)")), true},
		{"Yahoo rate limit", at(StepSelect, errors.New("imap: NO [LIMIT] SELECT Rate limit hit.")), true},

		{"wrong password", at(StepLogin, errors.New("imap: NO AUTHENTICATE failed.")), false},
		{"security defaults", at(StepLogin, errors.New("imap: NO Authentication unsuccessful, user is locked by your organization's security defaults policy")), false},
		{"missing folder", at(StepSelect, errors.New("imap: NO [NONEXISTENT] Mailbox doesn't exist")), false},
		{"move folder over quota", at(StepAfter, errors.New("imap: NO [OVERQUOTA] Quota exceeded (mailbox for user is full)")), false},
		{"unknown host", at(StepConnect, &net.DNSError{Err: "no such host", Name: "outlook.office356.com", IsNotFound: true}), false},
		{"cancelled", at(StepFetch, context.Canceled), false},
		{"a local failure that merely says unavailable", errors.New("destination: server unavailable"), false},
		{"a local EOF", fmt.Errorf("read state: %w", io.ErrUnexpectedEOF), false},
		{"nil", nil, false},
	}
	for _, c := range cases {
		if got := IsTransient(c.err); got != c.want {
			t.Errorf("%s: IsTransient(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// TestNotNow holds apart the server's "not now", which is no message's
// doing, from its "no" to a password, a folder or a message, and from
// failures that are not a server's reply.
func TestNotNow(t *testing.T) {
	at := func(step Step, text string) error {
		return &Error{Step: step, Addr: "127.0.0.1:993", Err: errors.New(text)}
	}
	for _, text := range []string{
		"imap: NO [LIMIT] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)",
		"PASS refused: [IN-USE] Mailbox is locked by another POP3 session.",
		"imap: NO [ALERT] Too many simultaneous connections. (Failure)",
		"imap: NO [OVERQUOTA] Account exceeded command or bandwidth limits. (Failure)",
		"imap: NO [INUSE] Mailbox in use",
		"imap: BAD Request is throttled. Suggested Backoff Time: 299910 milliseconds",
		"imap: NO [UNAVAILABLE] Temporary authentication failure. [mx.google.com]",
		"RETR refused: [SYS/TEMP] Try again later",
		"RETR refused: Server Unavailable. 21",
	} {
		if !NotNow(at(StepFetch, text)) {
			t.Errorf("NotNow(%q) = false", text)
		}
	}
	for _, err := range []error{
		at(StepLogin, "imap: NO [AUTHENTICATIONFAILED] Authentication failed."),
		at(StepFetch, "RETR refused: no such message"),
		at(StepFetch, "imap: NO [OVERQUOTA] Quota exceeded"),
		at(StepFetch, "unexpected EOF"),
		errors.New("destination: server unavailable, try again later"), // not a session's
		nil,
	} {
		if NotNow(err) {
			t.Errorf("NotNow(%v) = true", err)
		}
	}
}

// TestRetryAfterTakesExchangesSuggestion: Exchange Online says how long a
// throttled mailbox should wait, and a retry sooner is throttled again.
func TestRetryAfterTakesExchangesSuggestion(t *testing.T) {
	at := func(text string) error {
		return &Error{Step: StepSelect, Addr: "outlook.office365.com:993", Err: errors.New(text)}
	}
	for _, c := range []struct {
		err  error
		want time.Duration
	}{
		{at(`folder "INBOX": imap: BAD Request is throttled. Suggested Backoff Time: 299910 milliseconds`), 299910 * time.Millisecond},
		{at("imap: NO Request is throttled. Suggested Backoff Time: 89117 milliseconds"), 89117 * time.Millisecond},
		{at("imap: NO Request is throttled. Suggested Backoff Time: 99999999999 milliseconds"), 15 * time.Minute},
		{&Error{Step: StepLogin, Err: errors.New("PASS refused: [LOGIN-DELAY] wait"), RetryAfter: time.Minute}, time.Minute},
		{at("imap: NO [UNAVAILABLE] Server Unavailable. 15"), 0},
		{errors.New("Suggested Backoff Time: 1000 milliseconds"), 0}, // not a session's
	} {
		if got := RetryAfter(c.err); got != c.want {
			t.Errorf("RetryAfter(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
