package diagnose

import (
	"errors"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"

	"mailtask/internal/auth"
)

// row is one entry of the catalogue: the reply it recognises and the advice
// for it.
type row struct {
	// name identifies the row in tests and in the README's table.
	name string
	// reply describes what the row recognises, as it arrives.
	reply string
	match func(f *failure) bool
	hint  func(f *failure) string
}

// failure is an error with what the rows look at, worked out once.
type failure struct {
	err  error
	text string // err's message, lower case
	// host is the server the failure came from ("" when unknown);
	// microsoft says whether it is one of Microsoft's.
	host      string
	microsoft bool
	smtp      *smtp.SMTPError // an SMTP reply, with its enhanced code
	idp       *auth.Error     // an identity-platform refusal or failure
}

// ServerHost is implemented by errors that know which server they came
// from: mailbox sessions, notifications, identity requests.
type ServerHost interface {
	ServerHost() string
}

func newFailure(err error) *failure {
	f := &failure{err: err, text: strings.ToLower(err.Error())}
	var sh ServerHost
	if errors.As(err, &sh) {
		f.host = sh.ServerHost()
		f.microsoft = MicrosoftHost(f.host)
	}
	errors.As(err, &f.smtp)
	errors.As(err, &f.idp)
	return f
}

// Hint returns advice for err, or "" when there is none better than the
// error itself.
func Hint(err error) string {
	if r := find(err); r != nil {
		return r.hint(newFailure(err))
	}
	return ""
}

// find returns the first row of the catalogue that matches err: specific
// replies come before the generic ones that would also match them.
func find(err error) *row {
	if err == nil {
		return nil
	}
	f := newFailure(err)
	for i := range catalogue {
		if catalogue[i].match(f) {
			return &catalogue[i]
		}
	}
	return nil
}

// microsoftDomains are the domains of Microsoft's mail and identity
// servers: Exchange Online worldwide and in the national clouds, and
// Outlook.com.
var microsoftDomains = []string{
	"office365.com", "outlook.com", "office.com", "office365.us", "outlook.cn", "office.de",
	"microsoftonline.com", "microsoftonline.us", "chinacloudapi.cn", "microsoftonline.cn",
}

// MicrosoftHost reports whether host is one of Microsoft's mail or identity
// servers (outlook.office365.com, smtp.office365.com,
// imap-mail.outlook.com, login.microsoftonline.com, ...).
func MicrosoftHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return slices.ContainsFunc(microsoftDomains, func(d string) bool {
		return host == d || strings.HasSuffix(host, "."+d)
	})
}

// say is a hint that does not depend on the failure.
func say(hint string) func(*failure) string { return func(*failure) string { return hint } }

// byHost is a hint with a version for Microsoft's servers and one for
// every other.
func byHost(microsoft, other string) func(*failure) string {
	return func(f *failure) string {
		if f.microsoft {
			return microsoft
		}
		return other
	}
}

// contains matches a message holding any of substrings, ignoring case.
func contains(substrings ...string) func(*failure) bool {
	return func(f *failure) bool {
		return slices.ContainsFunc(substrings, func(s string) bool { return strings.Contains(f.text, strings.ToLower(s)) })
	}
}

// all matches when every one of matches does.
func all(matches ...func(*failure) bool) func(*failure) bool {
	return func(f *failure) bool {
		for _, m := range matches {
			if !m(f) {
				return false
			}
		}
		return true
	}
}

// fromMicrosoft matches failures of Microsoft's servers.
func fromMicrosoft(f *failure) bool { return f.microsoft }

// aadstsCode finds Microsoft identity-platform error numbers in a message.
var aadstsCode = regexp.MustCompile(`aadsts(\d+)`)

// aadsts matches an identity-platform refusal carrying one of codes
// exactly: AADSTS70008 is not AADSTS700082.
func aadsts(codes ...int) func(*failure) bool {
	return func(f *failure) bool {
		for _, m := range aadstsCode.FindAllStringSubmatch(f.text, -1) {
			if n, err := strconv.Atoi(m[1]); err == nil && slices.Contains(codes, n) {
				return true
			}
		}
		return false
	}
}

// oauthError matches an identity-platform refusal with the OAuth2 error
// code ("invalid_grant"), from the token endpoint's JSON or the redirect.
func oauthError(code string) func(*failure) bool {
	return func(f *failure) bool { return f.idp != nil && f.idp.Code == code }
}

// smtpCode matches an SMTP reply with the enhanced status code (RFC 3463)
// class.subject.detail, whatever its basic code; go-smtp keeps the enhanced
// code out of the error's text.
func smtpCode(class, subject, detail int) func(*failure) bool {
	return func(f *failure) bool {
		return f.smtp != nil && f.smtp.EnhancedCode == smtp.EnhancedCode{class, subject, detail}
	}
}

// smtpSays matches an SMTP reply whose text holds any of substrings.
func smtpSays(substrings ...string) func(*failure) bool {
	return func(f *failure) bool {
		if f.smtp == nil {
			return false
		}
		msg := strings.ToLower(f.smtp.Message)
		return slices.ContainsFunc(substrings, func(s string) bool { return strings.Contains(msg, s) })
	}
}

// smtpAuthRefused matches an SMTP reply refusing AUTH (535, or 5.7.8 and
// 5.7.3 elsewhere).
func smtpAuthRefused(f *failure) bool {
	return f.smtp != nil && (f.smtp.Code == 535 || f.smtp.EnhancedCode == smtp.EnhancedCode{5, 7, 8})
}

// isError matches when err holds an error of type T.
func isError[T error](f *failure) bool {
	var target T
	return errors.As(f.err, &target)
}
