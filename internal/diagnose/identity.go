package diagnose

import (
	"regexp"
	"slices"
	"strconv"
)

// aadstsCode finds Microsoft identity-platform error numbers in a message.
var aadstsCode = regexp.MustCompile(`aadsts(\d+)`)

// aadsts matches a message carrying one of codes exactly: AADSTS70008 is
// not AADSTS700082.
func aadsts(codes ...int) func(error, string) bool {
	return func(_ error, text string) bool {
		for _, m := range aadstsCode.FindAllStringSubmatch(text, -1) {
			if n, err := strconv.Atoi(m[1]); err == nil && slices.Contains(codes, n) {
				return true
			}
		}
		return false
	}
}

// identityRules explain the identity platform's refusals (Microsoft's
// AADSTS codes first, then the OAuth2 error codes every provider uses) and
// a mail server's refusal of a token. They are tried before rules: an
// AADSTS code says more than the words around it.
var identityRules = []rule{
	{aadsts(50076, 50079),
		"Microsoft requires multi-factor authentication for this sign-in (AADSTS50076/50079). Sign in again with `mailtask auth login ACCOUNT` and complete MFA in the browser (or with --device). If it recurs at every refresh, a Conditional Access policy demands fresh MFA: an admin can exclude this app or the server's location from it."},
	{aadsts(53003),
		"A Conditional Access policy blocked the sign-in (AADSTS53003). An admin must allow this app, device or location: Entra admin center > Protection > Conditional Access (the sign-in logs name the policy)."},
	{aadsts(65001),
		"The app lacks consent for the permissions it asks for (AADSTS65001). An admin: Entra admin center > App registrations > the app > API permissions: add IMAP.AccessAsUser.All / POP.AccessAsUser.All (Microsoft Graph, delegated) or IMAP.AccessAsApp / POP.AccessAsApp (Office 365 Exchange Online, application), then Grant admin consent. Then sign in again with `mailtask auth login ACCOUNT`."},
	{aadsts(65004),
		"The sign-in was declined at the consent prompt (AADSTS65004). Run `mailtask auth login ACCOUNT` again and accept, or have an admin grant consent for the organisation (App registrations > the app > API permissions > Grant admin consent)."},
	{aadsts(700082),
		"The refresh token expired after 90 days without use (AADSTS700082). Sign in again with `mailtask auth login ACCOUNT`, and run a task of this account at least every few weeks (`mailtask auth status` warns after 60 days)."},
	{aadsts(70008),
		"The refresh token has expired or was revoked (AADSTS70008: a password change, an admin's revocation, or long disuse). Sign in again with `mailtask auth login ACCOUNT`."},
	{aadsts(700016),
		"Microsoft does not know this app in that tenant (AADSTS700016). Check oauth2.client_id (the Application (client) ID) and oauth2.tenant; an app registered in another tenant must be multi-tenant and consented in this one."},
	{aadsts(7000215),
		"The client secret is wrong (AADSTS7000215): use the secret's Value, shown once when it was created, not its Secret ID."},
	{aadsts(7000222),
		"The client secret has expired (AADSTS7000222). Create a new one (Entra admin center > App registrations > the app > Certificates & secrets), then update the account's client secret and oauth2.client_secret_expires."},
	{aadsts(7000218),
		"Entra wants a client secret for this app (AADSTS7000218): set the account's client secret, or allow sign-in without one (App registrations > the app > Authentication > Allow public client flows: Yes)."},
	{aadsts(90002),
		"Microsoft does not know that tenant (AADSTS90002). oauth2.tenant must be the directory's domain (contoso.onmicrosoft.com or a verified domain) or its Directory (tenant) ID, as shown on the app registration's Overview."},
	{aadsts(50011),
		"The redirect URL is not registered with the app (AADSTS50011). Add oauth2.redirect_url exactly (default http://localhost:9090/register_microsoft_graph_api/) under App registrations > the app > Authentication > Mobile and desktop applications."},
	{contains("access_denied"),
		"The sign-in was cancelled or consent was refused. Run `mailtask auth login ACCOUNT` again and accept the permissions, or have an admin grant consent."},
	{contains("invalid_grant"),
		"The identity platform no longer accepts the stored sign-in (invalid_grant: expired, revoked, or made for other scopes). Sign in again with `mailtask auth login ACCOUNT`."},
	{contains("invalid_scope"),
		"A scope is not valid for this app or flow (invalid_scope). Microsoft delegated: https://outlook.office.com/IMAP.AccessAsUser.All (or POP.AccessAsUser.All) and offline_access; app-only: https://outlook.office365.com/.default; Google: https://mail.google.com/. Leave oauth2.scopes out to get these."},
	{contains("unauthorized_client"),
		"The app may not use this flow (unauthorized_client). For device_code, or for a sign-in without a client secret, allow public client flows (App registrations > the app > Authentication); check oauth2.client_id and oauth2.tenant."},
	{contains("invalid_client"),
		"The identity platform refused the app's credentials (invalid_client): check oauth2.client_id and the client secret."},
	{contains("5.7.3 authentication unsuccessful"),
		"Microsoft 365 refused the SMTP sign-in (5.7.3). Most often SMTP AUTH is turned off for the tenant or mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false, or Microsoft 365 admin center > the user > Mail > Manage email apps > Authenticated SMTP); otherwise the password or token is wrong."},
	{contains("offers neither xoauth2 nor oauthbearer"),
		"This server does not take OAuth2 tokens. For Microsoft 365 use host outlook.office365.com; for Gmail imap.gmail.com or pop.gmail.com; for other servers use auth = \"password\"."},
	{contains("authenticate failed", "auth xoauth2 refused", "authenticate xoauth2", "auth oauthbearer refused", "authenticate oauthbearer"),
		"The mail server refused the OAuth2 token. Most often: the token is for the wrong resource, such as a Microsoft Graph scope (IMAP needs https://outlook.office.com/IMAP.AccessAsUser.All, POP https://outlook.office.com/POP.AccessAsUser.All, app-only https://outlook.office365.com/.default); IMAP or POP is disabled for the mailbox (Exchange admin center > Recipients > Mailboxes > the mailbox > Manage email apps); username is not the mailbox the token belongs to; or, for app-only tokens, Exchange lacks the app's service principal or its mailbox permission (New-ServicePrincipal and Add-MailboxPermission, see the README)."},
}
