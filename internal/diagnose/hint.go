package diagnose

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"strings"
	"syscall"
)

// rule maps a recognisable failure to its hint.
type rule struct {
	match func(err error, text string) bool
	hint  string
}

func contains(substrings ...string) func(error, string) bool {
	return func(_ error, text string) bool {
		for _, s := range substrings {
			if strings.Contains(text, strings.ToLower(s)) {
				return true
			}
		}
		return false
	}
}

// rules are tried in order; the first match wins, so specific server texts
// come before generic network classes.
var rules = []rule{
	{contains("user is locked by your organization's security defaults policy"),
		"Microsoft 365 Security Defaults block password sign-in for this mailbox. Either switch the account to OAuth2, or have an admin turn Security Defaults off (Entra admin center > Identity > Overview > Properties > Manage security defaults) and use an app password."},
	{contains("basicauthblocked", "logondenied-basicauthblocked"),
		"Basic authentication (passwords) is turned off for this tenant or mailbox. Use OAuth2, or an app password where the tenant allows them."},
	{contains("5.7.139", "smtpclientauthentication is disabled"),
		"Microsoft 365 has SMTP AUTH turned off for this tenant or mailbox, so notifications cannot be sent with a password or token. An admin can allow it for the mailbox: Microsoft 365 admin center > Users > the user > Mail > Manage email apps > Authenticated SMTP (or Set-CASMailbox -SmtpClientAuthenticationDisabled $false)."},
	{contains("5.7.60", "sendasdenied"),
		"The SMTP server refused to send as the From address: it must be the mailbox that signs in ([notify] from, or leave it out)."},
	{contains("login failed", "authenticationfailed", "invalid credentials", "[auth]", "authentication failed"),
		"The server refused the user name or password. Check username and the password source (password_env/password_file). For Microsoft 365 with MFA, use an app password (My Account > Security info > Add method > App password) or OAuth2; also check that IMAP/POP is enabled for the mailbox (Exchange admin center > Recipients > Mailboxes > the mailbox > Email apps)."},
	{contains("user is authenticated but not connected"),
		"Microsoft accepted the sign-in but cannot open the mailbox: username must be the mailbox the credentials (or the OAuth2 token) belong to, or one that user has Full Access to. For app-only tokens (client_credentials), Exchange needs the app's service principal and a mailbox permission for it: New-ServicePrincipal and Add-MailboxPermission (see the README)."},
	{contains("mailbox doesn't exist", "mailbox does not exist", "[nonexistent]", "no such mailbox", "folder not found", "unknown mailbox"),
		"The folder does not exist on the server. Check the task's mailbox (and move_to); folder names are case-sensitive except INBOX, and sub-folders use the server's separator, e.g. \"INBOX/Invoices\" or \"Inbox.Invoices\"."},
	{func(err error, _ string) bool {
		var uae x509.UnknownAuthorityError
		return errors.As(err, &uae)
	}, "The server's certificate is signed by an authority this machine does not trust. If it is a private CA, put its PEM in the account's ca_file."},
	{func(err error, _ string) bool {
		var he x509.HostnameError
		return errors.As(err, &he)
	}, "The server's certificate is not valid for the host name in the config. Use the name on the certificate as host (for Microsoft 365: outlook.office365.com)."},
	{func(err error, _ string) bool {
		var ce x509.CertificateInvalidError
		return errors.As(err, &ce)
	}, "The server's certificate is invalid (expired or not yet valid?). Check the clock of this machine and the server's certificate."},
	{func(err error, _ string) bool {
		var rh tls.RecordHeaderError
		return errors.As(err, &rh)
	}, "The server did not answer with TLS. The port probably expects plain text first: use tls = \"starttls\" (ports 143/110), or tls = \"implicit\" with ports 993/995."},
	{func(err error, _ string) bool { return errors.Is(err, syscall.ECONNREFUSED) },
		"Nothing accepts connections at that host and port. Check host and port (IMAP 993 implicit TLS / 143 STARTTLS; POP3 995 / 110) and any firewall."},
	{func(err error, _ string) bool {
		var dnsErr *net.DNSError
		return errors.As(err, &dnsErr)
	}, "The host name does not resolve. Check host (for Microsoft 365: outlook.office365.com) and this machine's DNS."},
	{func(err error, _ string) bool { return runDeadline(err) }, runDeadlineHint},
	{func(err error, _ string) bool {
		var ne net.Error
		return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	}, "The server did not answer in time. Check that the host and port are reachable from this machine (firewall, proxy); raise the account's timeout if the server is just slow."},
}

// Hint returns advice for err, or "" when there is none better than the
// error itself.
func Hint(err error) string {
	if err == nil {
		return ""
	}
	text := strings.ToLower(err.Error())
	for _, r := range slices.Concat(identityRules, rules) {
		if r.match(err, text) {
			return r.hint
		}
	}
	return ""
}
