package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailtask/internal/testmail"
)

// These tests hold `mailtask check` (and `notify test`, for the SMTP
// replies) to the catalogue of hints: each refusal, as Microsoft or
// another server sends it, prints a hint that names the fix.

// TestCheckHintsForIdentityRefusals: the token endpoint refuses the
// refresh with each code the catalogue knows.
func TestCheckHintsForIdentityRefusals(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{AccessTTL: time.Minute}, "") // never reused: each check refreshes
	if code, out, errOut := f.loginInBrowser(); code != exitOK {
		t.Fatalf("login: exit %d\n%s%s", code, out, errOut)
	}
	for _, c := range []struct {
		code   string
		aadsts int
		want   string
	}{
		{"invalid_grant", 50076, "complete MFA"},
		{"invalid_grant", 53003, "sign in with the browser"},
		{"invalid_grant", 65001, "Grant admin consent"},
		{"access_denied", 65004, "declined at the consent prompt"},
		{"invalid_grant", 700082, "90 days without use"},
		{"invalid_grant", 70008, "expired or was revoked"},
		{"unauthorized_client", 700016, "oauth2.client_id"},
		{"invalid_client", 7000215, "not its Secret ID"},
		{"invalid_client", 7000222, "oauth2.client_secret_expires"},
		{"invalid_client", 7000218, "Mobile and desktop applications"},
		{"invalid_request", 90002, "oauth2.tenant must be"},
		{"invalid_request", 50011, "oauth2.redirect_url"},
		{"invalid_request", 50194, "Set oauth2.tenant"},
		{"invalid_grant", 50057, "Add-MailboxPermission"},
		{"invalid_grant", 50034, "check oauth2.tenant"},
		{"invalid_grant", 50126, "right password"},
		{"invalid_grant", 50053, "unlock"},
		{"invalid_grant", 50055, "Change it"},
		{"unauthorized_client", 7000112, "Enabled for users to sign in"},
		{"invalid_resource", 500011, "https://outlook.office365.com/.default"},
		{"access_denied", 0, "accept the permissions"},
		{"invalid_grant", 0, "no longer accepts the stored sign-in"},
		{"invalid_scope", 0, "Leave oauth2.scopes out"},
		{"unauthorized_client", 0, "allow public client flows"},
		{"invalid_client", 0, "check oauth2.client_id and the client secret"},
	} {
		t.Run(fmt.Sprintf("%s AADSTS%d", c.code, c.aadsts), func(t *testing.T) {
			f.idp.FailNext("refresh_token", testmail.IdPError{Code: c.code, AADSTS: c.aadsts, Message: "Refused for the test."})
			code, out, _ := run(t, "check", "--config", f.cfg, "invoices")
			if code != exitFailed || !strings.Contains(out, "token         failed") || !strings.Contains(out, "hint: ") || !strings.Contains(out, c.want) {
				t.Errorf("exit %d, want the token step to fail with a hint naming %q:\n%s", code, c.want, out)
			}
		})
	}
}

// checkRefusal runs check against the fixture's IMAP server answering
// cmd with reply, and wants a hint holding want.
func checkRefusal(t *testing.T, f *oauthFixture, cmd string, reply *imap.Error, want string) {
	t.Helper()
	fault := func(c string) error {
		if c == cmd {
			return reply
		}
		return nil
	}
	f.fault.Store(&fault)
	defer f.fault.Store(nil)
	code, out, _ := run(t, "check", "--config", f.cfg, "invoices")
	if code != exitFailed || !strings.Contains(out, "hint: ") || !strings.Contains(out, want) {
		t.Errorf("%s answered %v: exit %d, want a hint naming %q:\n%s", cmd, reply, code, want, out)
	}
}

// passwordAccount turns the fixture's account into a password account.
func passwordAccount(t *testing.T, f *oauthFixture) {
	t.Helper()
	data, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start, end := strings.Index(text, "auth = \"oauth2\""), strings.Index(text, "[[task]]")
	text = text[:start] + "password = \"unused\"\n" + text[end:]
	if err := os.WriteFile(f.cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCheckHintsForServerRefusals: the mail server refuses as Exchange
// and others do; the server here is not Microsoft's, so the advice is
// the one for any server.
func TestCheckHintsForServerRefusals(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{}, "")
	if code, out, errOut := f.loginInBrowser(); code != exitOK {
		t.Fatalf("login: exit %d\n%s%s", code, out, errOut)
	}
	no := func(text string) *imap.Error { return &imap.Error{Type: imap.StatusResponseTypeNo, Text: text} }
	checkRefusal(t, f, "AUTHENTICATE", no("User is authenticated but not connected."), "Add-MailboxPermission -Identity MAILBOX -User USER")
	checkRefusal(t, f, "SELECT", &imap.Error{Type: imap.StatusResponseTypeBad, Text: "User is authenticated but not connected."}, "New-ServicePrincipal")
	checkRefusal(t, f, "SELECT", &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "Mailbox doesn't exist: INBOX"}, "Check the task's mailbox")
	f.refuse.Store(true)
	checkRefusal(t, f, "", nil, "mailtask auth status ACCOUNT")
	f.refuse.Store(false)

	passwordAccount(t, f)
	checkRefusal(t, f, "LOGIN", no("LOGIN failed."), "app password")
	checkRefusal(t, f, "LOGIN", no("Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator."), "security defaults policy blocks")
	checkRefusal(t, f, "LOGIN", no("LOGIN failed. LogonDenied-BasicAuthBlocked"), "October 2022")
}

// TestCheckHintForAnAppOnlyTokenWithoutRoles: admin consent was never
// granted, so the token carries no roles and Exchange refuses it.
func TestCheckHintForAnAppOnlyTokenWithoutRoles(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{AppRoles: []string{}}, "flow = \"client_credentials\"")
	code, out, _ := run(t, "check", "--config", f.cfg, "invoices")
	if code != exitFailed || !strings.Contains(out, "carries no roles") || !strings.Contains(out, "hint: The app-only token carries no application permission") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// TestCheckHintsForTheNetwork: nothing listening, an untrusted
// certificate.
func TestCheckHintsForTheNetwork(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{}, "")
	passwordAccount(t, f)
	editFile(t, f.cfg, "ca_file =", "# ca_file =")
	if code, out, _ := run(t, "check", "--config", f.cfg, "invoices"); code != exitFailed || !strings.Contains(out, "hint: The server's certificate is signed by an authority this machine does not trust") {
		t.Errorf("untrusted certificate: exit %d\n%s", code, out)
	}
	f.srv.Close()
	if code, out, _ := run(t, "check", "--config", f.cfg, "invoices"); code != exitFailed || !strings.Contains(out, "hint: Nothing accepts connections") {
		t.Errorf("nothing listening: exit %d\n%s", code, out)
	}
}

// notifyRefused runs `notify test` through an SMTP server at host that
// answers AUTH with reply, and returns what it printed.
func notifyRefused(t *testing.T, host string, reply *smtp.SMTPError) string {
	t.Helper()
	srv, caFile := testmail.StartSMTPWithCA(t, testmail.SMTPOptions{Username: "alerts@contoso.example", Password: "app-pass", Mechanisms: []string{sasl.Login}, AuthError: reply})
	cfg := notifyConfig(t, srv, caFile)
	_, port, _ := net.SplitHostPort(srv.Addr)
	editFile(t, cfg, "host = \"127.0.0.1\"\nport = "+port, "host = \""+host+"\"\nport = "+port)
	code, out, errOut := run(t, "notify", "test", "--config", cfg)
	if code == exitOK {
		t.Errorf("notify test succeeded against a refusal")
	}
	return out + errOut
}

// TestNotifyHintsForSMTPRefusals: Microsoft's SMTP replies, matched on
// their enhanced status codes.
func TestNotifyHintsForSMTPRefusals(t *testing.T) {
	for _, c := range []struct {
		reply *smtp.SMTPError
		want  string
	}{
		{&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 30}, Message: "Basic authentication is not supported for Client Submission."}, "SMTP.Send"},
		{&smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139}, Message: "Authentication unsuccessful, basic authentication is disabled."}, "Basic authentication (passwords, app passwords) turned off for SMTP"},
		{&smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139}, Message: "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information."}, "SmtpClientAuthenticationDisabled $false"},
		{&smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139}, Message: "Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully. Contact your administrator."}, "Conditional Access"},
		{&smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Username and Password not accepted."}, "app password"},
	} {
		out := notifyRefused(t, "127.0.0.1", c.reply)
		code := fmt.Sprintf("%d %d.%d.%d", c.reply.Code, c.reply.EnhancedCode[0], c.reply.EnhancedCode[1], c.reply.EnhancedCode[2])
		if !strings.Contains(out, code) || !strings.Contains(out, "hint: ") || !strings.Contains(out, c.want) {
			t.Errorf("reply %s: want the code and a hint naming %q:\n%s", code, c.want, out)
		}
	}
}

// TestCheckHintsAtMicrosoft: the same refusals from outlook.office365.com
// and smtp.office365.com get the advice for Exchange Online.
func TestCheckHintsAtMicrosoft(t *testing.T) {
	if !testmail.MicrosoftHostsHere() {
		testmail.WithMicrosoftHosts(t)
		return
	}
	f := newOAuthFixture(t, testmail.IdPOptions{}, "")
	editFile(t, f.cfg, "host = \"127.0.0.1\"", "host = \"outlook.office365.com\"")
	if code, out, errOut := f.loginInBrowser(); code != exitOK {
		t.Fatalf("login: exit %d\n%s%s", code, out, errOut)
	}
	f.refuse.Store(true)
	checkRefusal(t, f, "", nil, "Microsoft Graph scope")
	f.refuse.Store(false)
	passwordAccount(t, f)
	no := func(text string) *imap.Error { return &imap.Error{Type: imap.StatusResponseTypeNo, Text: text} }
	checkRefusal(t, f, "LOGIN", no("LOGIN failed."), "October 2022")
	checkRefusal(t, f, "LOGIN", no("Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator."), "does not bring IMAP or POP passwords back")

	out := notifyRefused(t, "smtp.office365.com", &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 3}, Message: "Authentication unsuccessful [SN4PR0201CA0063.namprd02.prod.outlook.com]"})
	if !strings.Contains(out, "535 5.7.3") || !strings.Contains(out, "SMTP.SendAsApp") {
		t.Errorf("535 5.7.3 from Microsoft 365: want its hint:\n%s", out)
	}
}
