package diagnose

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
)

func TestHints(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string // a phrase the hint must contain
	}{
		{"exchange login", errors.New("login to outlook.office365.com:993 as a@b failed: imap: NO LOGIN failed."), "app password"},
		{"dovecot login", errors.New("imap: NO [AUTHENTICATIONFAILED] Authentication failed."), "refused the user name or password"},
		{"security defaults", errors.New("NO Authentication unsuccessful, user is locked by your organization's security defaults policy"), "Security Defaults"},
		{"basic auth blocked", errors.New("NO LOGIN failed. BasicAuthBlocked"), "Basic authentication"},
		{"wrong mailbox", errors.New("NO User is authenticated but not connected."), "cannot open the mailbox"},
		{"smtp auth disabled", errors.New("notify: SMTP login to smtp.office365.com:587 failed: 535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant."), "SMTP AUTH turned off"},
		{"send as denied", errors.New("notify: SMTP send to smtp.office365.com:587 failed: 554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied"), "From address"},
		{"missing folder", errors.New(`folder "Invoices": imap: NO [NONEXISTENT] Mailbox doesn't exist: Invoices`), "folder does not exist"},
		// GNU Mailutils 3.15, as imap4d answers.
		{"mailutils login", errors.New("login to 127.0.0.1:143 as alice@test failed: imap: NO LOGIN User name or passwd rejected"), "refused the user name or password"},
		{"mailutils folder", errors.New(`select to 127.0.0.1:143 failed: folder "Invoices": imap: NO EXAMINE Could not open Invoices: No such file or directory`), "folder does not exist"},
		{"local file missing", errors.New("open /etc/mailtask/ca.pem: no such file or directory"), ""},
		// Refused after-actions: Cyrus, Courier, Dovecot.
		{"move over quota", errors.New(`after: the server refused after = "move" for 19 message(s) (uid:1, uid:2): after-action to h:993 failed: after = "move": imap: NO Over quota`), "over quota"},
		{"copy denied", errors.New(`after: the server refused after = "move" for 19 message(s) (uid:1): after-action to h:993 failed: after = "move": imap: NO Access denied for COPY`), "lacks a right"},
		{"store denied", errors.New(`after: the server refused after = "seen" for 3 message(s) (uid:1): imap: NO [NOPERM] Permission denied`), "lacks a right"},
		{"removal refused", errors.New(`after: the server refused the removal of the messages after = "move" copied for 3 message(s) (uid:1): imap: NO Server error`), "stays due"},
		{"login delay", errors.New("pop3 h:110: PASS refused: [LOGIN-DELAY] Minimum time between mail checks violated"), "LOGIN-DELAY"},
		{"logindisabled", errors.New(`login to h:143 as u failed: the server advertises LOGINDISABLED: it takes no password over this unencrypted connection`), "starttls"},
		{"pop3 plaintext", errors.New("pop3 h:110: PASS refused: USER/PASS only available under a layer"), "starttls"},
		{"dovecot plaintext", errors.New("imap: NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."), "starttls"},
		{"tls port", errors.New(`connect to h:993 failed: no greeting: this port speaks TLS: tls = "implicit"`), "tls = \"implicit\""},
		{"unknown CA", fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), "ca_file"},
		{"wrong host name", fmt.Errorf("tls: %w", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "x"}), "not valid for the host name"},
		{"refused", &net.OpError{Op: "dial", Err: &wrapErrno{syscall.ECONNREFUSED}}, "Nothing accepts connections"},
		{"dns", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "nope.invalid"}}, "does not resolve"},
		{"timeout", fmt.Errorf("fetch: %w", context.DeadlineExceeded), "did not answer in time"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Hint(c.err)
			if c.want == "" && got != "" {
				t.Errorf("Hint(%v) = %q, want none", c.err, got)
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("Hint(%v) = %q, want it to contain %q", c.err, got, c.want)
			}
		})
	}
	if got := Hint(errors.New("something nobody has seen")); got != "" {
		t.Errorf("unknown error got hint %q", got)
	}
	if Hint(nil) != "" {
		t.Error("nil error got a hint")
	}
}

type wrapErrno struct{ errno syscall.Errno }

func (w *wrapErrno) Error() string { return w.errno.Error() }
func (w *wrapErrno) Unwrap() error { return w.errno }
