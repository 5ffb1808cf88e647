package diagnose_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-smtp"

	"mailtask/internal/diagnose"
	"mailtask/internal/testmail"
)

// catalogueCase is a failure made the way mailtask receives it, the row
// of the catalogue it must meet, and a phrase of the fix its hint must
// name.
type catalogueCase struct {
	name string
	row  string
	err  func(*testing.T) error
	want string
	// notMicrosoft: the hint must not send the admin to Microsoft 365
	// settings (the server is not Microsoft's).
	notMicrosoft bool
}

func aadstsCase(row, code string, n int, message, want string) catalogueCase {
	return catalogueCase{row, row, idpRefused(code, n, message), want, false}
}

// localCases need no name of Microsoft's: every server is on 127.0.0.1.
var localCases = []catalogueCase{
	aadstsCase("AADSTS50076", "invalid_grant", 50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000002-0000-0ff1-ce00-000000000000'.", "complete MFA"),
	aadstsCase("AADSTS53003", "invalid_grant", 53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.", "sign in with the browser"),
	aadstsCase("AADSTS65001", "invalid_grant", 65001, "The user or administrator has not consented to use the application with ID '00000000-0000-0000-0000-00000000c11e' named 'mailtask'.", "Grant admin consent"),
	aadstsCase("AADSTS65004", "access_denied", 65004, "User declined to consent to access the app.", "accept"),
	aadstsCase("AADSTS700082", "invalid_grant", 700082, "The refresh token has expired due to inactivity. The token was issued on 2024-10-01 and was inactive for 90.00:00:00.", "90 days without use"),
	aadstsCase("AADSTS70008", "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity.", "`mailtask auth login ACCOUNT`"),
	aadstsCase("AADSTS50173", "invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '2026-10-01T08:00:00.0000000Z' and the TokensValidFrom date (before which tokens are not valid) for this user is '2026-11-20T09:30:00.0000000Z'.", "password was changed"),
	aadstsCase("AADSTS70043", "invalid_grant", 70043, "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. The token was issued on 2026-12-01T08:00:00.0000000Z and the maximum allowed lifetime for this request is 43200.", "sign-in frequency"),
	aadstsCase("AADSTS700016", "unauthorized_client", 700016, "Application with identifier 'abc' was not found in the directory 'Contoso'.", "oauth2.client_id"),
	aadstsCase("AADSTS7000215", "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.", "not its Secret ID"),
	aadstsCase("AADSTS7000222", "invalid_client", 7000222, "The provided client secret keys for app 'abc' are expired.", "oauth2.client_secret_expires"),
	aadstsCase("AADSTS7000218", "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", "Mobile and desktop applications"),
	{"AADSTS700027 not registered", "AADSTS700027", certRefused(false, 0), "Certificates & secrets > Certificates > Upload certificate", false},
	aadstsCase("AADSTS700027", "invalid_client", 700027, "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '1C74D736BEA6C95459FD38D02D0A2514A52FC9E9', Found key 'Start=02/07/2025 17:00:39, End=02/06/2026 17:00:39', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '00000000-0000-0000-0000-00000000c11e'.]", "The key used is expired"),
	{"AADSTS700024 clock behind", "AADSTS700024", certRefused(true, time.Hour), "synchronise it", false},
	aadstsCase("AADSTS700021", "invalid_client", 700021, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .", "not its Object ID"),
	aadstsCase("AADSTS700023", "invalid_client", 700023, "Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .", "token_url in a national cloud"),
	aadstsCase("AADSTS50012", "invalid_client", 70002, "Error validating credentials. AADSTS50012: Client assertion audience claim does not match Realm issuer.", "this machine's clock is off"),
	aadstsCase("AADSTS90002", "invalid_request", 90002, "Tenant 'contoso.onmicrosft.com' not found.", "oauth2.tenant"),
	aadstsCase("AADSTS50011", "invalid_request", 50011, "The redirect URI 'http://localhost:9090/' specified in the request does not match the redirect URIs configured for the application.", "oauth2.redirect_url"),
	aadstsCase("AADSTS50194", "invalid_request", 50194, "Application '00000000-0000-0000-0000-00000000c11e'(mailtask) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.", "Set oauth2.tenant"),
	aadstsCase("AADSTS50057", "invalid_grant", 50057, "The user account is disabled.", "Full Access"),
	aadstsCase("AADSTS50034", "invalid_grant", 50034, "The user account {EUII Hidden} does not exist in the contoso.onmicrosoft.com directory. To sign into this application, the account must be added to the directory.", "check oauth2.tenant"),
	aadstsCase("AADSTS50126", "invalid_grant", 50126, "Error validating credentials due to invalid username or password.", "right password"),
	aadstsCase("AADSTS50053", "invalid_grant", 50053, "You've tried to sign in too many times with an incorrect user ID or password.", "unlock"),
	aadstsCase("AADSTS50055", "invalid_grant", 50055, "The password is expired.", "Change it"),
	aadstsCase("AADSTS7000112", "unauthorized_client", 7000112, "Application '00000000-0000-0000-0000-00000000c11e'(mailtask) is disabled.", "Enabled for users to sign in"),
	aadstsCase("AADSTS500011", "invalid_resource", 500011, "The resource principal named https://outlook.office365.com was not found in the tenant named Contoso. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", "https://outlook.office365.com/.default"),
	{"browser never returned", "browser never returned", browserNeverReturned, "--timeout", false},
	{"access_denied", "access_denied", idpRefused("access_denied", 50000, "The user cancelled the sign-in."), "accept the permissions", false},
	{"invalid_grant (Google)", "invalid_grant", idpRefused("invalid_grant", 9002313, "Token has been expired or revoked."), "mailtask auth login ACCOUNT", false},
	{"invalid_scope", "invalid_scope", idpRefused("invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid."), "https://outlook.office365.com/.default", false},
	{"unauthorized_client", "unauthorized_client", idpRefused("unauthorized_client", 700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented."), "public client flows", false},
	{"invalid_client", "invalid_client", idpRefused("invalid_client", 7000205, "Invalid client assertion."), "client secret", false},

	{"not connected, reply to AUTHENTICATE", "not connected", imapTokenRefused(local, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "User is authenticated but not connected."}), "Add-MailboxPermission -Identity MAILBOX -User USER -AccessRights FullAccess", false},
	{"not connected, BAD to AUTHENTICATE", "not connected", imapTokenRefused(local, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "User is authenticated but not connected."}), "New-ServicePrincipal", false},
	{"too many connections: Dovecot IMAP", "too many connections", imapLoginRefused(local, "LIMIT", "Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)"), "the 1 connection the server allows at once from one address", true},
	{"too many connections: Dovecot POP3", "too many connections", pop3Refused(local, "PASS", "-ERR [IN-USE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=10)", false), "set the account's max_connections no higher than 10, less what the mailbox's other clients hold", true},
	{"too many connections: Gmail, to a token", "too many connections", imapTokenRefused(local, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlert, Text: "Too many simultaneous connections. (Failure)"}), "Gmail: 15", true},
	{"too many connections: Gmail's exchange, to a token", "too many connections", gmailTooManyConnections, "Gmail: 15", true},
	{"too many connections: Gmail, to a password", "too many connections", imapLoginRefused(local, imap.ResponseCodeAlert, "Too many simultaneous connections. (Failure)"), "let fewer tasks poll this mailbox", true},
	{"maildrop in use: Dovecot POP3 lock", "maildrop in use", pop3Refused(local, "PASS", "-ERR [IN-USE] Mailbox is locked by another POP3 session.", false), "max_connections = 1", true},
	{"maildrop in use: IMAP INUSE", "maildrop in use", imapSelectRefused(local, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeInUse, Text: "Mailbox in use, try again later"}), "one session at a time", true},
	{"bandwidth limit: Gmail at sign-in", "bandwidth limit", imapLoginRefused(local, imap.ResponseCodeAlert, "Account exceeded command or bandwidth limits. (Failure)"), "2,500 MB", true},
	{"throttled: Yahoo", "throttled", imapSelectRefused(local, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "SELECT Rate limit hit."}), "schedule the task less often", true},
	{"server unavailable: Dovecot", "server unavailable", imapLoginRefused(local, imap.ResponseCodeUnavailable, "Temporary authentication failure. [mail.example.com:2026-12-07 10:00:00]"), "max_connections leaves room", true},
	{"server unavailable: POP3 SYS/TEMP", "server unavailable", pop3Refused(local, "PASS", "-ERR [SYS/TEMP] Temporary system failure", false), "cannot serve this account for now", true},
	{"bandwidth limit: Gmail's BYE", "bandwidth limit", imapEndedBy("* BYE [OVERQUOTA] Account exceeded command or bandwidth limits."), "2,500 MB", true},
	{"session token expired: Exchange's BYE", "session token expired", imapEndedBy("* BYE Session invalidated - AccessTokenExpired"), "signs in again with a new token", false},
	{"server shutting down: Dovecot's BYE", "server shutting down", imapEndedBy("* BYE Server shutting down."), "shutting down or restarting", true},
	{"server shutting down: Dovecot POP3", "server shutting down", pop3Refused(local, "PASS", "-ERR [SYS/TEMP] Server shutting down.", false), "shutting down or restarting", true},
	{"server inactivity: Dovecot's BYE", "server inactivity", imapEndedBy("* BYE Disconnected for inactivity."), "The account's timeout bounds how long mailtask waits for the server", true},
	{"server inactivity: Dovecot POP3", "server inactivity", pop3Refused(local, "PASS", "-ERR Disconnected for inactivity.", false), "idle_reissue", true},
	{"app-only token without roles", "app-only token without roles", imapNoRolesToken, "IMAP.AccessAsApp", false},
	{"security defaults, elsewhere", "security defaults", imapLoginRefused(local, "", "Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator."), "security defaults policy", true},
	{"BasicAuthBlocked", "BasicAuthBlocked", imapLoginRefused(local, "", "LOGIN failed. LogonDenied-BasicAuthBlocked"), "auth = \"oauth2\"", false},
	{"SMTP 5.7.30", "SMTP 5.7.30", smtpRefused(local, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 30}, Message: "Basic authentication is not supported for Client Submission."}, false), "SMTP.Send", false},
	{"SMTP 5.7.139 basic auth disabled", "SMTP 5.7.139 basic auth disabled", smtpRefused(local, &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139}, Message: "Authentication unsuccessful, basic authentication is disabled. [BN9PR03CA0123.namprd03.prod.outlook.com 2025-01-31T08:00:00.000Z 08DD3F]"}, false), "SMTP.SendAsApp", false},
	{"SMTP 5.7.139 SMTP AUTH disabled", "SMTP 5.7.139 SMTP AUTH disabled", smtpRefused(local, &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139}, Message: "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [AM0PR02CA0001.eurprd02.prod.outlook.com]"}, false), "SmtpClientAuthenticationDisabled $false", false},
	{"SMTP 5.7.139 SMTP AUTH disabled for the mailbox", "SMTP 5.7.139 SMTP AUTH disabled", smtpRefused(local, &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139}, Message: "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information."}, false), "Authenticated SMTP", false},
	{"SMTP 5.7.139 other", "SMTP 5.7.139", smtpRefused(local, &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139}, Message: "Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully. Contact your administrator."}, false), "auth = \"oauth2\"", false},
	{"SendAsDenied", "SendAsDenied", smtpRefused(local, &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 2, 0}, Message: "STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception"}, false), "From address", false},
	{"SMTP 432 concurrent connections", "SMTP concurrent connections", smtpRefused(local, &smtp.SMTPError{Code: 432, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information. [Hostname=AM0PR02MB1234.eurprd02.prod.outlook.com]"}, false), "mailbox of its own", false},
	{"SMTP 432 sender thread limit", "SMTP concurrent connections", smtpRefused(local, &smtp.SMTPError{Code: 432, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=AM0PR02MB1234.eurprd02.prod.outlook.com]"}, false), "3 SMTP connections", false},
	{"SMTP 554 submission quota", "SMTP recipient rate limit", smtpRefused(local, &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 2, 0}, Message: "STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message Cannot submit message."}, false), "10,000 recipients", false},
	{"SMTP 554 mailbox full", "SMTP mailbox full", smtpRefused(local, &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded"}, false), "Sent Items", false},
	{"SMTP 550 continuous errors", "SMTP continuous error throttling", smtpRefused(local, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 2, 252}, Message: "Sender throttled due to continuous send as denied errors."}, false), "lifts by itself", false},
	{"SMTP 535 5.7.8 elsewhere", "SMTP AUTH refused", smtpRefused(local, &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Username and Password not accepted. For more information, go to https://support.google.com/mail/?p=BadCredentials"}, false), "app password", true},
	{"SMTP 535 5.7.3 elsewhere", "SMTP AUTH refused", smtpRefused(local, &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 3}, Message: "Authentication unsuccessful"}, true), "password source", true},
	{"no token mechanism", "no token mechanism", func(t *testing.T) error {
		ca := newCA(t)
		srv := imapServer(t, ca, testmail.IMAPOptions{})
		return imapSignIn(t, ca, srv, local, bearer())
	}, "auth = \"password\"", false},
	{"token refused elsewhere", "token refused", imapTokenRefused(local, nil), "mailtask auth status ACCOUNT", true},
	{"Gmail IMAP off for the user", "Gmail IMAP off", imapTokenRefused(local, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlert, Text: "Your account is not enabled for IMAP use. Please visit your Gmail settings page and enable your account for IMAP access. (Failure)"}), "Enable IMAP", true},
	{"Gmail IMAP off for the domain", "Gmail IMAP off", imapTokenRefused(local, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlert, Text: "IMAP access is disabled for your domain. Please contact your domain administrator for questions about this feature. (Failure)"}), "POP and IMAP access", true},
	{"Google delegation not granted", "Google delegation", serviceAccountRefused(func(sa *testmail.GoogleServiceAccount, _ *time.Duration, _ *string) { sa.Delegated = nil }), "Manage Domain Wide Delegation", true},
	{"Google delegation for other scopes", "Google delegation", serviceAccountRefused(func(sa *testmail.GoogleServiceAccount, _ *time.Duration, _ *string) {
		sa.Delegated = []string{"https://www.googleapis.com/auth/gmail.readonly"}
	}), "https://mail.google.com/ exactly", true},
	{"Google group as username", "Google unknown user", serviceAccountRefused(func(_ *testmail.GoogleServiceAccount, _ *time.Duration, user *string) {
		*user = "invoices-group@example.com"
	}), "primary email address", true},
	{"Google key deleted", "Google key signature", serviceAccountRefused(func(sa *testmail.GoogleServiceAccount, _ *time.Duration, _ *string) { clear(sa.Keys) }), "create a new JSON key", true},
	{"Google clock behind", "Google clock", serviceAccountRefused(func(_ *testmail.GoogleServiceAccount, skew *time.Duration, _ *string) { *skew = -2 * time.Hour }), "Synchronise it", true},
	{"Google service account disabled", "Google service account gone", serviceAccountRefused(func(sa *testmail.GoogleServiceAccount, _ *time.Duration, _ *string) { sa.Disabled = true }), "enable it", true},
	{"POP3 token refused elsewhere", "token refused", pop3Refused(local, "AUTH", "-ERR [AUTH] Authentication failed.", true), "scopes", true},
	{"password refused: Dovecot", "password refused", imapLoginRefused(local, imap.ResponseCodeAuthenticationFailed, "Authentication failed."), "app password", true},
	{"password refused: Gmail", "password refused", imapLoginRefused(local, imap.ResponseCodeAuthenticationFailed, "Invalid credentials (Failure)"), "app password", true},
	{"password refused: Courier", "password refused", imapLoginRefused(local, "", "Login failed."), "password_env", true},
	{"password refused: POP3", "password refused", pop3Refused(local, "PASS", "-ERR [AUTH] Authentication failed.", false), "password_file", true},
	{"password refused: GNU Mailutils", "password refused", imapLoginRefused(local, "", "LOGIN User name or passwd rejected"), "password_env", true},
	{"login delay: Cyrus", "login delay", pop3Refused(local, "PASS", "-ERR [LOGIN-DELAY] Minimum time between mail checks violated", false), "LOGIN-DELAY", true},
	{"plain text refused: POP3", "plain text refused", pop3Refused(local, "PASS", "-ERR USER/PASS only available under a layer", false), "tls = \"starttls\"", true},
	{"plain text refused: Dovecot", "plain text refused", imapLoginRefused(local, "PRIVACYREQUIRED", "Plaintext authentication disallowed on non-secure (SSL/TLS) connections."), "tls = \"implicit\"", true},
	{"plain text refused: LOGINDISABLED", "plain text refused", imapLoginDisabled, "tls = \"starttls\"", true},
	{"missing folder", "missing folder", imapMissingFolder, "Check the task's mailbox", false},
	{"missing folder: GNU Mailutils", "missing folder", imapMissingFolderMailutils, "Check the task's mailbox", false},
	{"move over quota: Cyrus", "action over quota", imapActionRefused("MOVE", nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: "Over quota"}), "over quota", true},
	{"copy without the right: Courier", "action without the right", imapActionRefused("COPY", []imap.Cap{imap.CapUIDPlus}, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Access denied for COPY"}), "lacks a right", true},
	{"store without the right", "action without the right", imapActionRefused("STORE", nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNoPerm, Text: "Permission denied"}), "lacks a right", true},
	{"move refused", "action refused", imapActionRefused("MOVE", nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Server error"}), "stays due", true},
	{"TLS port with tls = none", "port speaks TLS", tlsPortInPlainText, "tls = \"implicit\"", true},
	{"unknown CA", "unknown CA", unknownCA, "ca_file", false},
	{"wrong host name", "wrong host name", wrongHostName, "name on the certificate", false},
	{"invalid certificate", "invalid certificate", expiredCertificate, "clock", false},
	{"not TLS", "not TLS", plaintextServer, "starttls", false},
	{"connection refused", "connection refused", connectionRefused, "Check host and port", false},
	{"unknown host", "unknown host", unknownHost, "does not resolve", false},
	{"timeout", "timeout", silentServer, "raise the account's timeout", false},
	{"the task's timeout", "run timeout", runTimeout, "set max_messages", false},
}

// microsoftCases reach their servers by Microsoft's names, on loopback in a
// namespace of their own.
var microsoftCases = []catalogueCase{
	{"security defaults", "security defaults", imapLoginRefused(microsoft, "", "Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator."), "does not bring IMAP or POP passwords back", false},
	{"LOGIN failed at Exchange Online", "password refused", imapLoginRefused(microsoft, "", "LOGIN failed."), "October 2022", false},
	{"POP3 logon failure at Exchange Online", "password refused", pop3Refused(microsoft, "PASS", "-ERR Logon failure: unknown user name or bad password.", false), "auth = \"oauth2\"", false},
	{"AUTHENTICATE failed at Exchange Online", "token refused", imapTokenRefused(microsoft, nil), "Microsoft Graph scope", false},
	{"throttled at Exchange Online", "throttled", imapSelectRefused(microsoft, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Request is throttled. Suggested Backoff Time: 299910 milliseconds"}), "Exchange Online is throttling this mailbox", false},
	{"Server Unavailable at Exchange Online", "server unavailable", imapSelectRefused(microsoft, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Server Unavailable. 15"}), "service health", false},
	{"POP3 token refused at Exchange Online", "token refused", pop3Refused(microsoft, "AUTH", "-ERR Authentication failure: unknown user name or bad password.", true), "Get-MailboxPermission", false},
	{"SMTP 535 5.7.3 at Microsoft 365", "SMTP 5.7.3", smtpRefused(msSMTP, &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 3}, Message: "Authentication unsuccessful [SN4PR0201CA0063.namprd02.prod.outlook.com 2025-01-31T08:00:00.000Z 08DD3F6A]"}, true), "SMTP.SendAsApp", false},
	{"SMTP 535 without enhanced code at Microsoft 365", "SMTP AUTH refused", smtpRefused(msSMTP, &smtp.SMTPError{Code: 535, Message: "Authentication failed"}, false), "Authenticated SMTP", false},
}

func runCases(t *testing.T, cases []catalogueCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err(t)
			if got := diagnose.RowOf(err); got != c.row {
				t.Errorf("error %q\nmet row %q, want %q", err, got, c.row)
			}
			hint := diagnose.Hint(err)
			if !strings.Contains(hint, c.want) {
				t.Errorf("error %q\nhint %q\nlacks %q", err, hint, c.want)
			}
			if c.notMicrosoft && (strings.Contains(hint, "Microsoft") || strings.Contains(hint, "Exchange")) {
				t.Errorf("a server that is not Microsoft's got a hint about Microsoft 365: %q", hint)
			}
		})
	}
}

// TestCatalogue holds every row of the catalogue up to a failure made the
// way mailtask receives it.
func TestCatalogue(t *testing.T) {
	t.Parallel()
	runCases(t, localCases)
}

// TestCatalogueAtMicrosoft gives the advice that holds only for
// Microsoft's servers when, and only when, the server is one of them.
func TestCatalogueAtMicrosoft(t *testing.T) {
	if !testmail.MicrosoftHostsHere() {
		testmail.WithMicrosoftHosts(t)
		return
	}
	runCases(t, microsoftCases)
}

// TestEveryRowHasACase keeps the catalogue and its tests together: a row
// without a case is a hint nobody has seen fire.
func TestEveryRowHasACase(t *testing.T) {
	var covered []string
	for _, c := range slices.Concat(localCases, microsoftCases, clusterCases) {
		covered = append(covered, c.row)
	}
	for _, name := range diagnose.RowNames() {
		if !slices.Contains(covered, name) {
			t.Errorf("row %q has no case", name)
		}
	}
	if n := len(diagnose.RowNames()); n < 40 {
		t.Errorf("the catalogue has %d rows", n)
	}
}

// TestNoHint: an error nobody has seen gets no hint rather than a wrong
// one.
func TestNoHint(t *testing.T) {
	if got := diagnose.Hint(errString("something nobody has seen")); got != "" {
		t.Errorf("unknown error got hint %q", got)
	}
	if diagnose.Hint(nil) != "" {
		t.Error("nil error got a hint")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestAADSTSCodesMatchExactly keeps a code from matching a longer one that
// starts with it.
func TestAADSTSCodesMatchExactly(t *testing.T) {
	long := idpRefused("invalid_grant", 700082, "The refresh token has expired due to inactivity.")(t)
	short := idpRefused("invalid_grant", 70008, "The refresh token has expired.")(t)
	if a, b := diagnose.RowOf(long), diagnose.RowOf(short); a != "AADSTS700082" || b != "AADSTS70008" {
		t.Errorf("rows %q and %q", a, b)
	}
	if got := diagnose.RowOf(idpRefused("invalid_request", 900021, "Requested tenant identifier is invalid.")(t)); got == "AADSTS90002" {
		t.Error("AADSTS900021 met the row of AADSTS90002")
	}
}

func TestMicrosoftHost(t *testing.T) {
	for host, want := range map[string]bool{
		"outlook.office365.com": true, "smtp.office365.com": true, "imap-mail.outlook.com": true,
		"outlook.office365.us": true, "partner.outlook.cn": true, "login.microsoftonline.com": true,
		"OUTLOOK.OFFICE365.COM.": true, "outlook.office365.com:993": true,
		"imap.gmail.com": false, "127.0.0.1": false, "mail.contoso.com": false, "notoutlook.com": false, "": false,
	} {
		if got := diagnose.MicrosoftHost(host); got != want {
			t.Errorf("MicrosoftHost(%q) = %v", host, got)
		}
	}
}
