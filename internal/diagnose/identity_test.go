package diagnose_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"mailtask/internal/auth"
	"mailtask/internal/diagnose"
	"mailtask/internal/mailbox"
	"mailtask/internal/mailbox/pop3"
)

// refusal is an identity-platform refusal as auth reports it.
func refusal(code, description string) error {
	return &auth.Error{Account: "shared-inbox", Op: "token refresh", Host: "login.microsoftonline.com", Code: code, Status: 400,
		Description: description + " Trace ID: 0b7a Correlation ID: 5c1d Timestamp: 2025-01-31 08:00:00Z"}
}

// imapLogin is a mail server's refusal as the IMAP session reports it.
func imapLogin(text string) error {
	return &mailbox.Error{Step: mailbox.StepLogin, Addr: "outlook.office365.com:993", User: "invoices@contoso.com", Err: errors.New(text)}
}

// TestIdentityHints has one case per mapping the issue names, each with
// the text Microsoft (or the mail server) really sends.
func TestIdentityHints(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"AUTHENTICATE failed (IMAP, token)", imapLogin("AUTHENTICATE XOAUTH2: imap: NO AUTHENTICATE failed."), "Microsoft Graph scope"},
		{"AUTHENTICATE failed names IMAP disabled", imapLogin("AUTHENTICATE XOAUTH2: imap: NO AUTHENTICATE failed."), "Manage email apps"},
		{"POP3 token refused", &mailbox.Error{Step: mailbox.StepLogin, Addr: "outlook.office365.com:995", Err: &pop3.ServerError{Command: "AUTH XOAUTH2", Text: "Authentication failure: unknown user name or bad password."}}, "refused the OAuth2 token"},
		{"OAUTHBEARER refused", imapLogin(`AUTHENTICATE OAUTHBEARER: imap: NO [AUTHENTICATIONFAILED] Authentication failed. (server challenge: status invalid_token)`), "refused the OAuth2 token"},
		{"not connected: other user", imapLogin("imap: NO User is authenticated but not connected."), "Full Access"},
		{"not connected: app-only", imapLogin("imap: NO User is authenticated but not connected."), "New-ServicePrincipal and Add-MailboxPermission"},
		{"security defaults", imapLogin("imap: NO Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator."), "Security Defaults"},
		{"LOGIN failed", imapLogin("imap: NO LOGIN failed."), "app password"},
		{"LOGIN failed names OAuth2", imapLogin("imap: NO LOGIN failed."), "OAuth2"},
		{"BasicAuthBlocked", imapLogin("imap: NO LOGIN failed. LogonDenied-BasicAuthBlocked"), "Basic authentication"},
		{"SMTP 5.7.139", errors.New("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information."), "SMTP AUTH"},
		{"SMTP 5.7.3", errors.New("535 5.7.3 Authentication unsuccessful [AM0PR02CA0001.eurprd02.prod.outlook.com]"), "SmtpClientAuthenticationDisabled"},
		{"AADSTS50076", refusal("invalid_grant", "AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000002-0000-0ff1-ce00-000000000000'."), "multi-factor"},
		{"AADSTS50079", refusal("interaction_required", "AADSTS50079: Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication."), "multi-factor"},
		{"AADSTS53003", refusal("invalid_grant", "AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."), "Conditional Access"},
		{"AADSTS65001", refusal("invalid_grant", "AADSTS65001: The user or administrator has not consented to use the application with ID '00000000-0000-0000-0000-00000000c11e' named 'mailtask'."), "Grant admin consent"},
		{"AADSTS70008", refusal("invalid_grant", "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity."), "`mailtask auth login ACCOUNT`"},
		{"AADSTS700082", refusal("invalid_grant", "AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2024-10-01 and was inactive for 90.00:00:00."), "90 days without use"},
		{"AADSTS700016", refusal("unauthorized_client", "AADSTS700016: Application with identifier 'abc' was not found in the directory 'Contoso'."), "oauth2.client_id"},
		{"AADSTS7000215", refusal("invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID."), "not its Secret ID"},
		{"AADSTS7000222", refusal("invalid_client", "AADSTS7000222: The provided client secret keys for app 'abc' are expired."), "oauth2.client_secret_expires"},
		{"AADSTS90002", refusal("invalid_request", "AADSTS90002: Tenant 'contoso.onmicrosft.com' not found."), "oauth2.tenant"},
		{"AADSTS50011", refusal("invalid_request", "AADSTS50011: The redirect URI 'http://localhost:9090/' specified in the request does not match the redirect URIs configured for the application."), "redirect_url"},
		{"AADSTS7000218", refusal("invalid_client", "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'."), "Allow public client flows"},
		{"AADSTS65004", refusal("access_denied", "AADSTS65004: User declined to consent to access the app."), "declined at the consent prompt"},
		{"invalid_grant (Google)", refusal("invalid_grant", "Token has been expired or revoked."), "no longer accepts the stored sign-in"},
		{"invalid_scope", refusal("invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid."), "https://outlook.office365.com/.default"},
		{"unauthorized_client", refusal("unauthorized_client", "The client is not authorized to use this grant type."), "public client flows"},
		{"invalid_client", refusal("invalid_client", "Unauthorized"), "client secret"},
		{"access_denied", refusal("access_denied", "The user cancelled the sign-in."), "cancelled"},
		{"no token mechanism", imapLogin("the server offers neither XOAUTH2 nor OAUTHBEARER (it offers PLAIN), so it cannot take an OAuth2 token"), "does not take OAuth2 tokens"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := diagnose.Hint(c.err); !strings.Contains(got, c.want) {
				t.Errorf("Hint(%v)\n = %q\nwant it to contain %q", c.err, got, c.want)
			}
		})
	}
}

// TestAADSTSCodesMatchExactly keeps a code from matching a longer one that
// starts with it: 70008 and 700082 need different advice.
func TestAADSTSCodesMatchExactly(t *testing.T) {
	long := diagnose.Hint(refusal("invalid_grant", "AADSTS700082: The refresh token has expired due to inactivity."))
	short := diagnose.Hint(refusal("invalid_grant", "AADSTS70008: The refresh token has expired."))
	if long == short {
		t.Fatalf("AADSTS700082 and AADSTS70008 got the same hint %q", long)
	}
	if got := diagnose.Hint(refusal("invalid_request", "AADSTS900021: Requested tenant identifier is invalid.")); strings.Contains(got, "AADSTS90002") {
		t.Errorf("AADSTS900021 got the hint of AADSTS90002: %q", got)
	}
}

// TestTransportFailureOfTokenEndpoint: an unreachable identity endpoint
// gets the network hints, through auth.Error.
func TestTransportFailureOfTokenEndpoint(t *testing.T) {
	err := &auth.Error{Account: "a", Op: "token refresh", Host: "login.microsoftonline.com", Err: fmt.Errorf("dial: %w", &timeoutError{})}
	if got := diagnose.Hint(err); !strings.Contains(got, "did not answer in time") {
		t.Errorf("Hint = %q", got)
	}
}

type timeoutError struct{}

func (*timeoutError) Error() string   { return "i/o timeout" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return true }
