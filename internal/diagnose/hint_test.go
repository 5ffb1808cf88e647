package diagnose

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
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
		{"unknown CA", fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), "ca_file"},
		{"wrong host name", fmt.Errorf("tls: %w", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "x"}), "not valid for the host name"},
		{"refused", &net.OpError{Op: "dial", Err: &wrapErrno{syscall.ECONNREFUSED}}, "Nothing accepts connections"},
		{"dns", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "nope.invalid"}}, "does not resolve"},
		{"timeout", fmt.Errorf("fetch: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}), "did not answer in time"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Hint(c.err); !strings.Contains(got, c.want) {
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
