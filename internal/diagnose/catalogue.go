package diagnose

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"syscall"

	"github.com/aws/smithy-go"

	"mailtask/internal/auth"
	"mailtask/internal/mailbox"
	"mailtask/internal/objsink"
)

// Hints that several rows share.
const (
	// exchangeOnlineNoPasswords is the truth about passwords and app
	// passwords on Exchange Online.
	exchangeOnlineNoPasswords = "Exchange Online has refused passwords and app passwords (Basic authentication) for IMAP and POP since October 2022, whatever the tenant's settings: switch the account to auth = \"oauth2\" (README: Microsoft 365 with OAuth2; `mailtask auth login ACCOUNT` for a delegated sign-in, or flow = \"client_credentials\" for app-only)."
	signInAgain               = "Sign in again with `mailtask auth login ACCOUNT`."
)

// refusedAction matches an after-action the server refused, as the run
// returns it or as the state keeps its text for `mailtask status`.
func refusedAction(f *failure) bool {
	return isError[*mailbox.RefusedError](f) || contains("the server refused after =", "the server refused the removal")(f)
}

// catalogue is every hint mailtask knows, tried in order: the first row
// that matches wins, so a specific reply comes before the generic one that
// would also match it. Each row has a test that builds the failure the
// way mailtask receives it (hints_test.go).
var catalogue = []row{
	// Cluster mode: the object store of s3:// destinations and the
	// state_store database (cluster.go).
	{"S3 create-only ignored", "object store ignores or refuses If-None-Match: * (objsink.CreateOnlyError)", isError[*objsink.CreateOnlyError],
		say("The object store does not honour create-only puts (If-None-Match: *), on which mailtask relies never to replace one file with another of the same name, so it writes nothing to that destination. Upgrade the store to a release that honours conditional writes (AWS S3 does, and versitygw since its 2025 releases), or set s3_create_only = \"check_first\" in the configuration: each put then looks at its key first, which leaves one race (README: Running on many machines, Files). The messages stay in the mailbox and are taken by the next run.")},
	{"S3 no such bucket", "object store: S3 error NoSuchBucket", s3Code("NoSuchBucket"),
		say("The object store has no such bucket. Create it, or correct the bucket in the task's destination (s3://BUCKET/prefix); check that s3_endpoint and s3_region name the store that holds it." + notCommitted)},
	{"S3 access key unknown", "object store: S3 error InvalidAccessKeyId (versitygw: XAdminUserNotFound)", s3Code("InvalidAccessKeyId", "XAdminUserNotFound"),
		say("The object store does not know the access key ID. Check s3_access_key_id_env or s3_access_key_id_file (without them, AWS_ACCESS_KEY_ID and the rest of the AWS chain), and that s3_endpoint is the store the key belongs to." + notCommitted)},
	{"S3 secret wrong", "object store: S3 error SignatureDoesNotMatch", s3Code("SignatureDoesNotMatch"),
		say("The object store refused the secret access key for this access key ID. Check s3_secret_access_key_env or s3_secret_access_key_file (without them, AWS_SECRET_ACCESS_KEY and the rest of the AWS chain)." + notCommitted)},
	{"S3 wrong region", "object store: S3 error AuthorizationHeaderMalformed (region), PermanentRedirect", s3Code("AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException"),
		say("The bucket is in another region than the one requests are signed for. Set s3_region to the bucket's region (the reply names it), or s3_endpoint to the region's endpoint." + notCommitted)},
	{"S3 access denied", "object store: S3 error AccessDenied", s3Code("AccessDenied", "AllAccessDisabled"),
		say("The object store's credentials may not write to the destination. Their policy needs s3:PutObject and s3:GetObject on the bucket's keys under the destination's prefix (and s3:AbortMultipartUpload for files above 64 MiB)." + notCommitted)},
	{"S3 clock skew", "object store: S3 error RequestTimeTooSkewed", s3Code("RequestTimeTooSkewed"),
		say("The object store refuses requests signed by this machine's clock, which is too far off: synchronise it (NTP)." + notCommitted)},
	{"S3 unreachable", "object store: no answer (connection refused, unknown host, timeout, TLS, not an S3 server)", func(f *failure) bool {
		var api smithy.APIError
		return objectStore(f) && !errors.As(f.err, &api)
	}, say("The object store did not answer. Check s3_endpoint (scheme, host and port of an S3 server; without it, AWS's endpoint for s3_region), that this machine reaches it (firewall, proxy), and its certificate." + notCommitted)},
	{"database sign-in refused", "PostgreSQL SQLSTATE 28P01 / 28000 (password or pg_hba.conf)", sqlState("28P01", "28000"),
		say("PostgreSQL refused the user name or password of the cluster's database URL (" + databaseSetup + "). Check them; in the URL a password holding @ : / ? # or % is percent-encoded (p@ss becomes p%40ss); and the server's pg_hba.conf must let this user in from this machine.")},
	{"database missing", "PostgreSQL SQLSTATE 3D000 (no such database)", sqlState("3D000"),
		say("The database named in the cluster's database URL (" + databaseSetup + ") does not exist: create it (createdb -O USER DATABASE) and run `mailtask db migrate`, or correct the URL's path.")},
	{"database pooler parameter", "PgBouncer: unsupported startup parameter (SQLSTATE 08P01)", pgMessage("08P01", "unsupported startup parameter"),
		say("A connection pooler between this node and PostgreSQL (PgBouncer, a managed database's pooled port) refused a setting the cluster's database URL (" + databaseSetup + ") sends when it connects; the error names it. Remove it from the URL's query (mailtask itself sends only application_name), or add it to the pooler's ignore_startup_parameters.")},
	{"database pooler statements", "PostgreSQL SQLSTATE 42P05 / 26000 on a prepared statement (a pooler in transaction mode)", pgMessage("", "prepared statement"),
		say("The cluster's database is reached through a connection pooler in transaction mode (PgBouncer, a managed database's pooled port), which hands each transaction another server connection, and the database URL (" + databaseSetup + ") asks for prepared statements, which stay on the connection that made them. Remove default_query_exec_mode from the URL: mailtask then uses unnamed statements, which work through any pooler.")},
	{rowDatabaseUnreachable, "PostgreSQL unreachable, restarting, or the connection ended (SQLSTATE 57..., 08..., 53...)", databaseGone,
		say("The cluster's database did not answer, or ended the connection (a restart, a failover, pg_terminate_backend). What a run had not committed is taken again by the next run; a running node keeps trying, and `mailtask run` starting waits a minute for it, then exits for its service manager to start it again. Check that PostgreSQL is up and that this machine reaches the host and port of its URL (" + databaseSetup + ").")},

	// By its text (pgstore's tests import this package), which is also
	// how a run's stored error meets it.
	{"token key", "cluster mode: stored OAuth2 tokens open with none of the node's token keys (pgstore.ErrTokenKey)", contains("the stored tokens cannot be decrypted with the configured token key"),
		say("The OAuth2 tokens in the cluster's database do not open with this node's token key. The error names the key that sealed them and the keys this node has, by identifier (`mailtask auth status` shows each node's). If another node has a newer key, a rotation is under way: give this node the same keys, the new one as token_key_env or token_key_file and the old one as token_key_previous_env or token_key_previous_file, and restart it (README: Rotating the token key); nothing was spent, the next run takes the mail. Sign the account in again (`mailtask auth login ACCOUNT`) only if no node has the key the error names, or if it says the row is damaged.")},

	// The identity platform: Microsoft's AADSTS codes first, then the
	// OAuth2 error codes every provider sends.
	{"AADSTS50076", "token endpoint error, AADSTS50076 or AADSTS50079", aadsts(50076, 50079),
		say("Microsoft requires multi-factor authentication for this sign-in (AADSTS50076/50079). Sign in again with `mailtask auth login ACCOUNT` and complete MFA in the browser (or with --device). If it recurs at every refresh, a Conditional Access policy demands fresh MFA: an admin can exclude this app or the server's location from it.")},
	{"AADSTS53003", "token endpoint error, AADSTS53003", aadsts(53003),
		say("A Conditional Access policy blocked the sign-in (AADSTS53003). Policies often block the device code flow alone: sign in with the browser instead (`mailtask auth login ACCOUNT` without --device and with flow = \"authorization_code\"; from a server, through `ssh -L 9090:localhost:9090 server`). Otherwise an admin must allow this app, device or location: Entra admin center > Protection > Conditional Access (the sign-in logs name the policy).")},
	{"AADSTS65001", "token endpoint error, AADSTS65001", aadsts(65001),
		say("The app lacks consent for the permissions it asks for (AADSTS65001). An admin: Entra admin center > App registrations > the app > API permissions: add IMAP.AccessAsUser.All / POP.AccessAsUser.All (Microsoft Graph, delegated) or IMAP.AccessAsApp / POP.AccessAsApp (Office 365 Exchange Online, application), then Grant admin consent. Then sign in again with `mailtask auth login ACCOUNT`.")},
	{"AADSTS65004", "redirect or token endpoint error, AADSTS65004", aadsts(65004),
		say("The sign-in was declined at the consent prompt (AADSTS65004). Run `mailtask auth login ACCOUNT` again and accept, or have an admin grant consent for the organisation (App registrations > the app > API permissions > Grant admin consent).")},
	{"AADSTS700082", "token endpoint error, AADSTS700082", aadsts(700082),
		say("The refresh token expired after 90 days without use (AADSTS700082). Sign in again with `mailtask auth login ACCOUNT`, and run a task of this account at least every few weeks (`mailtask auth status` warns after 60 days).")},
	{"AADSTS70008", "token endpoint error, AADSTS70008", aadsts(70008),
		say("The refresh token has expired or was revoked (AADSTS70008: a password change, an admin's revocation, or long disuse). " + signInAgain)},
	{"AADSTS50173", "token endpoint error, AADSTS50173", aadsts(50173),
		say("Microsoft revoked the sign-in (AADSTS50173): the user's password was changed or reset, or an admin revoked their sessions. " + signInAgain)},
	{"AADSTS70043", "token endpoint error, AADSTS70043 or AADSTS70044", aadsts(70043, 70044),
		say("A Conditional Access policy's sign-in frequency ended the sign-in (AADSTS70043/70044): no refresh lasts past it, so an unattended task stops every time it runs out. Sign in again with `mailtask auth login ACCOUNT`; to stop it recurring, an admin excludes the signing-in user (or this app) from the policy's sign-in frequency (Entra admin center > Protection > Conditional Access), or the account uses app-only tokens (flow = \"client_credentials\"), which no user sign-in frequency ends.")},
	{"AADSTS700016", "token endpoint error, AADSTS700016", aadsts(700016),
		say("Microsoft does not know this app in that tenant (AADSTS700016). Check oauth2.client_id (the Application (client) ID) and oauth2.tenant; an app registered in another tenant must be multi-tenant and consented in this one.")},
	{"AADSTS7000215", "token endpoint error, AADSTS7000215", aadsts(7000215),
		say("The client secret is wrong (AADSTS7000215): use the secret's Value, shown once when it was created, not its Secret ID.")},
	{"AADSTS7000222", "token endpoint error, AADSTS7000222", aadsts(7000222),
		say("The client secret has expired (AADSTS7000222). Create a new one (Entra admin center > App registrations > the app > Certificates & secrets), then update the account's client secret and oauth2.client_secret_expires.")},
	{"AADSTS7000218", "token endpoint error, AADSTS7000218", aadsts(7000218),
		say("Entra treats this app as a confidential client and wants its client secret (AADSTS7000218); a redirect URI registered under the Web platform (as CrushFTP registers it) does that. Either fix works: keep the Web registration and set the account's client secret (oauth2.client_secret_env or client_secret_file; App registrations > the app > Certificates & secrets > New client secret, its Value), or move the redirect URI to the \"Mobile and desktop applications\" platform and set Authentication > Allow public client flows: Yes. For app-only (client_credentials) the app always needs a client secret or a certificate (oauth2.client_certificate_file).")},
	{"AADSTS700027", "token endpoint error, AADSTS700027 (a certificate not registered, expired there, or another key's signature)", aadsts(700027),
		say("Entra does not take the certificate that signed the app's client assertion (AADSTS700027). Upload the certificate's public part (the .cer or .pem, never the key) to the app registration: Entra admin center > App registrations > the app > Certificates & secrets > Certificates > Upload certificate. Its thumbprint there must be the one `mailtask auth status` shows for oauth2.client_certificate_file. If it is there: \"The key used is expired\" means the uploaded certificate's end date has passed (upload a new one and replace the file), and otherwise the certificate belongs to another app registration than oauth2.client_id.")},
	{"AADSTS700024", "token endpoint error, AADSTS700024 (client assertion outside its valid time)", aadsts(700024),
		say("Entra found the app's client assertion outside its valid time (AADSTS700024). mailtask dates it by this machine's clock, which is off by minutes or more: synchronise it (timedatectl set-ntp true, chrony or ntpd; in a container, the host's clock). The reply names Entra's time and the assertion's.")},
	{"AADSTS700021", "token endpoint error, AADSTS700021 (client assertion for another app)", aadsts(700021),
		say("The app's client assertion names another app than the request does (AADSTS700021). Set oauth2.client_id to the Application (client) ID shown on the Overview of the app registration that holds the certificate, not its Object ID.")},
	{"AADSTS700023", "token endpoint error, AADSTS700023 (client assertion for another token endpoint)", aadsts(700023),
		say("The app's client assertion was made for another token endpoint than the directory's (AADSTS700023): mailtask addresses it to the token URL it posts to, so oauth2.tenant, and token_url in a national cloud, must name the cloud and the directory the app is registered in.")},
	{"AADSTS50012", "token endpoint error, AADSTS50012 (the older wording of the client assertion's refusals)", aadsts(50012),
		say("Entra refused the app's credential (AADSTS50012); its words say which part: \"audience\" means oauth2.tenant or token_url names another directory or cloud than the app's; \"valid time range\", that this machine's clock is off (synchronise it); \"signature\" or \"thumbprint\", that the certificate is not uploaded to the app registration (Certificates & secrets > Certificates) or the key is another's.")},
	{"AADSTS90002", "token endpoint error, AADSTS90002", aadsts(90002),
		say("Microsoft does not know that tenant (AADSTS90002). oauth2.tenant must be the directory's domain (contoso.onmicrosoft.com or a verified domain) or its Directory (tenant) ID, as shown on the app registration's Overview; in a national cloud the tenant must also be in token_url, auth_url and device_url.")},
	{"AADSTS50011", "redirect error, AADSTS50011", aadsts(50011),
		say("The redirect URL is not registered with the app (AADSTS50011). Add oauth2.redirect_url exactly (default http://localhost:9090/register_microsoft_graph_api/) under App registrations > the app > Authentication, or set redirect_url to the one registered there.")},
	{"AADSTS50194", "redirect or token endpoint error, AADSTS50194", aadsts(50194),
		say("The app is registered for its own directory only, so it cannot sign in through the 'common' endpoint (AADSTS50194). Set oauth2.tenant to the directory's domain (contoso.onmicrosoft.com) or its Directory (tenant) ID.")},
	{"AADSTS50057", "token endpoint error, AADSTS50057", aadsts(50057),
		say("The account that signed in is disabled (AADSTS50057). Shared mailboxes have sign-in blocked on purpose: sign in with `mailtask auth login ACCOUNT` as a user who has Full Access to the mailbox (Add-MailboxPermission -Identity MAILBOX -User USER -AccessRights FullAccess) and keep username as the mailbox, or have an admin unblock sign-in for the account (Microsoft 365 admin center > Users > the user > Block sign-in).")},
	{"AADSTS50034", "token endpoint error, AADSTS50034", aadsts(50034),
		say("Microsoft does not know that user in this tenant (AADSTS50034): a wrong account was picked at sign-in, or oauth2.tenant names another directory. Run `mailtask auth login ACCOUNT` again and sign in as the mailbox's user (or a user with Full Access to it), and check oauth2.tenant.")},
	{"AADSTS50126", "token endpoint error, AADSTS50126", aadsts(50126),
		say("Microsoft refused the user name or password typed at the sign-in (AADSTS50126). Run `mailtask auth login ACCOUNT` again with the right password; in a federated tenant, the password is the one of the organisation's own sign-in page.")},
	{"AADSTS50053", "token endpoint error, AADSTS50053", aadsts(50053),
		say("Microsoft has locked the account after too many failed sign-ins, or blocked sign-ins from this address (AADSTS50053). Wait for the lock to lapse or have an admin unlock it (Entra admin center > Users > the user), then run `mailtask auth login ACCOUNT`.")},
	{"AADSTS50055", "token endpoint error, AADSTS50055", aadsts(50055),
		say("The user's password has expired (AADSTS50055). Change it (sign in at https://myaccount.microsoft.com), then run `mailtask auth login ACCOUNT`.")},
	{"AADSTS7000112", "token endpoint error, AADSTS7000112", aadsts(7000112),
		say("The app is disabled in this tenant (AADSTS7000112). An admin: Entra admin center > Enterprise applications > the app > Properties > Enabled for users to sign in: Yes.")},
	{"AADSTS500011", "token endpoint error, AADSTS500011", aadsts(500011),
		say("The tenant has no such resource (AADSTS500011): Exchange Online is not set up in it (no licensed mailbox), or a scope names the wrong resource. App-only scopes must be https://outlook.office365.com/.default (leave oauth2.scopes out), and oauth2.tenant the directory that holds the mailbox.")},
	// Google's token endpoint refusing a service account's grant, word
	// for word: its replies carry no code of their own.
	{"Google delegation", "Google token endpoint 401 unauthorized_client `Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.`", contains("client is unauthorized to retrieve access tokens using this method"),
		say("Google refused the service account's grant (unauthorized_client): domain-wide delegation is not granted to this service account's client ID for https://mail.google.com/. A Workspace super admin: Admin console (admin.google.com) > Security > Access and data control > API controls > Manage Domain Wide Delegation > Add new: the service account's numeric client ID (the key file's client_id; `mailtask auth status ACCOUNT` shows it), and the scope https://mail.google.com/ exactly (gmail.readonly and the other Gmail API scopes do not open IMAP). A new grant takes minutes, at times hours, to apply.")},
	{"Google unknown user", "Google token endpoint 400 invalid_grant `Invalid email or User ID`", contains("invalid email or user id"),
		say("Google does not know the account's username as a user of the Workspace domain (Invalid email or User ID). A service account acts only as a user: not as an alias, a group or a Google Groups collaborative inbox. Set username to the user's primary email address (Admin console > Directory > Users), or have the group's mail delivered to a user's mailbox and read that one.")},
	{"Google key signature", "Google token endpoint 400 invalid_grant `Invalid JWT Signature.`", contains("invalid jwt signature"),
		say("Google does not take the key that signed the grant (Invalid JWT Signature.): the key was deleted or disabled, or the key file was edited. Look for the key ID that `mailtask auth status ACCOUNT` shows under Google Cloud console > IAM & Admin > Service accounts > the account > Keys; if it is not there, create a new JSON key there and put it in place of service_account_key_file (it is read at each token request, no restart needed).")},
	{"Google clock", "Google token endpoint 400 invalid_grant `Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe...`", contains("token must be a short-lived token"),
		say("Google found the service account's grant outside its valid time: mailtask dates it by this machine's clock, which is off by minutes or more. Synchronise it (timedatectl set-ntp true, chrony or ntpd; in a container, the host's clock).")},
	{"Google service account gone", "Google token endpoint 400 invalid_grant `Invalid grant: account not found` (the service account disabled or deleted)", contains("invalid grant: account not found"),
		say("Google does not find the service account of the key file (its client_email), or finds it disabled. Google Cloud console > IAM & Admin > Service accounts: enable it; if it was deleted, create a service account with a new JSON key and grant its client ID domain-wide delegation again (README: Google Workspace: a service account for many mailboxes).")},
	{"browser never returned", "`auth login`: no redirect reached the listener before --timeout", isError[*auth.NoReturnError],
		say("Microsoft shows some errors on its own page and never sends the browser back: AADSTS50011 (the redirect URL is not registered: add oauth2.redirect_url under App registrations > the app > Authentication), AADSTS50194 (a single-tenant app: set oauth2.tenant), AADSTS700016 (wrong oauth2.client_id or tenant), AADSTS90002 (unknown oauth2.tenant). Read the browser page, fix the setting, and run `mailtask auth login ACCOUNT` again; --timeout sets how long it waits (default 10m). Without a browser on this machine, use --device or `ssh -L PORT:localhost:PORT`.")},
	{"access_denied", "OAuth2 error access_denied", oauthError("access_denied"),
		say("The sign-in was cancelled or consent was refused. Run `mailtask auth login ACCOUNT` again and accept the permissions, or have an admin grant consent.")},
	{"invalid_grant", "OAuth2 error invalid_grant", oauthError("invalid_grant"),
		say("The identity platform no longer accepts the stored sign-in (invalid_grant: expired, revoked, or made for other scopes). " + signInAgain)},
	{"invalid_scope", "OAuth2 error invalid_scope", oauthError("invalid_scope"),
		say("A scope is not valid for this app or flow (invalid_scope). Microsoft delegated: https://outlook.office.com/IMAP.AccessAsUser.All (or POP.AccessAsUser.All) and offline_access; app-only: https://outlook.office365.com/.default; Google: https://mail.google.com/. Leave oauth2.scopes out to get these.")},
	{"unauthorized_client", "OAuth2 error unauthorized_client", oauthError("unauthorized_client"),
		say("The app may not use this flow (unauthorized_client). For device_code, or for a sign-in without a client secret, allow public client flows (App registrations > the app > Authentication); check oauth2.client_id and oauth2.tenant.")},
	{"invalid_client", "OAuth2 error invalid_client", oauthError("invalid_client"),
		say("The identity platform refused the app's credentials (invalid_client): check oauth2.client_id and the client secret or certificate.")},

	// Mail servers refusing a sign-in. Microsoft's own texts first, then
	// the generic refusals of a token and of a password.
	{"Gmail IMAP off", "Gmail IMAP NO `[ALERT] Your account is not enabled for IMAP use. ...` / `[ALERT] IMAP access is disabled for your domain. ...`", contains("not enabled for imap use", "imap access is disabled for your domain"),
		say("Gmail took the sign-in but refuses IMAP for this user. For the user alone: Gmail > Settings > See all settings > Forwarding and POP/IMAP > IMAP access: Enable IMAP. In Google Workspace, an admin may have turned IMAP off: Admin console > Apps > Google Workspace > Gmail > End User Access > POP and IMAP access, for the user's organisational unit. Changes may take an hour to apply.")},
	{"not connected", "IMAP NO/BAD `User is authenticated but not connected.` (to AUTHENTICATE or SELECT)", contains("user is authenticated but not connected"),
		say("Microsoft accepted the token but will not open the mailbox: username must be the mailbox the token's user owns, or one that user has Full Access to. For a delegated user and a shared mailbox: Add-MailboxPermission -Identity MAILBOX -User USER -AccessRights FullAccess (check with Get-MailboxPermission -Identity MAILBOX). For app-only tokens (client_credentials), Exchange needs the app's service principal and a mailbox permission for it: New-ServicePrincipal and Add-MailboxPermission (verify with Get-ServicePrincipal and Get-MailboxPermission; see the README). Changes take up to an hour to reach the servers.")},
	// A server's limits on the account (limits.go), before the refusals
	// of a token or a password that some of them would also match.
	{"too many connections", "IMAP NO `[LIMIT] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=N)` (Dovecot; POP3 -ERR `[IN-USE] ...`); Gmail NO `[ALERT] Too many simultaneous connections. (Failure)`", all(mailServer, contains("maximum number of connections", "too many simultaneous connections")),
		tooManyConnections},
	{"maildrop in use", "POP3 -ERR `[IN-USE] Mailbox is locked by another POP3 session.` (RFC 2449; Dovecot's pop3_lock_session); IMAP NO `[INUSE] ...` (RFC 5530)", all(mailServer, contains("[in-use]", "[inuse]")),
		say(maildropInUseHint)},
	{"bandwidth limit", "Gmail NO or BYE `[OVERQUOTA] Account exceeded command or bandwidth limits.` (also with [ALERT])", all(mailServer, contains("exceeded command or bandwidth limits")),
		say(bandwidthHint)},
	{"throttled", "Exchange Online BAD/NO `Request is throttled. Suggested Backoff Time: N milliseconds`; Yahoo NO `[LIMIT] ... Rate limit hit.`; RFC 5530 `[LIMIT]`", all(mailServer, contains("throttl", "rate limit", "[limit]")),
		byHost(throttledMicrosoftHint, throttledHint)},
	// The server ending a session with a reason (limits.go), before the
	// row of [SYS/TEMP], which Dovecot's POP3 puts before its shutdown.
	{"session token expired", "Exchange `* BYE Session invalidated - AccessTokenExpired`, after any command", all(mailServer, contains("accesstokenexpired")),
		say(sessionTokenExpiredHint)},
	{"server shutting down", "Dovecot `* BYE Server shutting down.` (POP3 `-ERR [SYS/TEMP] Server shutting down.`), after any command", all(mailServer, contains("server shutting down")),
		say(shuttingDownHint)},
	{"server inactivity", "Dovecot `* BYE Disconnected for inactivity.` (POP3 `-ERR Disconnected for inactivity.`)", all(mailServer, contains("disconnected for inactivity")),
		say(inactivityHint)},
	{"server unavailable", "IMAP NO `[UNAVAILABLE] ...` (Dovecot `Temporary authentication failure. [host:time]`, Exchange `Server Unavailable. 15`); POP3 -ERR `[SYS/TEMP] ...`", all(mailServer, contains("[unavailable]", "server unavailable", "[sys/temp]")),
		byHost(unavailableMicrosoftHint, unavailableHint)},
	{"app-only token without roles", "IMAP NO `AUTHENTICATE failed.` / POP3 -ERR to an app-only token that carries no roles", contains(auth.NoRolesNote),
		say("The app-only token carries no application permission (roles), so Exchange refuses it. An admin: Entra admin center > App registrations > the app > API permissions > Add a permission > APIs my organization uses > Office 365 Exchange Online > Application permissions: IMAP.AccessAsApp (or POP.AccessAsApp; SMTP.SendAsApp for notifications), then Grant admin consent. New tokens carry it once consented: run `mailtask auth login ACCOUNT` to fetch one.")},
	{"security defaults", "IMAP NO / SMTP 535 5.7.139 `... user is locked by your organization's security defaults policy`", contains("user is locked by your organization's security defaults policy"),
		byHost(exchangeOnlineNoPasswords+" Security Defaults block passwords too; turning them off does not bring IMAP or POP passwords back.",
			"The server refused the password because the organisation's security defaults policy blocks password sign-in for this user. Use OAuth2 (auth = \"oauth2\") where the server takes it, or ask its admin.")},
	{"BasicAuthBlocked", "IMAP NO `LOGIN failed.` with `BasicAuthBlocked`", contains("basicauthblocked"),
		say(exchangeOnlineNoPasswords)},
	{"SMTP 5.7.30", "SMTP 550 5.7.30 `Basic authentication is not supported for Client Submission`", smtpCode(5, 7, 30),
		say("Microsoft 365 no longer takes passwords or app passwords for sending mail (SMTP AUTH Basic authentication, 5.7.30). Give [notify] an account with auth = \"oauth2\": delegated with the scope https://outlook.office.com/SMTP.Send added (then `mailtask auth login ACCOUNT`), or app-only with the application permission SMTP.SendAsApp (README: Notifications).")},
	{"SMTP 5.7.139 basic auth disabled", "SMTP 535 5.7.139 `Authentication unsuccessful, basic authentication is disabled.`", all(smtpCode(5, 7, 139), smtpSays("basic authentication is disabled")),
		say("Microsoft 365 has Basic authentication (passwords, app passwords) turned off for SMTP in this tenant (5.7.139). Give [notify] an account with auth = \"oauth2\": delegated with the scope https://outlook.office.com/SMTP.Send added (then `mailtask auth login ACCOUNT`), or app-only with the application permission SMTP.SendAsApp (README: Notifications).")},
	{"SMTP 5.7.139 SMTP AUTH disabled", "SMTP 535 5.7.139 `Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant/Mailbox.`", all(smtpCode(5, 7, 139), smtpSays("smtpclientauthentication is disabled")),
		say("Microsoft 365 has SMTP AUTH turned off for this tenant or mailbox, so notifications cannot be sent with a password or token. An admin can allow it for the mailbox: Microsoft 365 admin center > Users > the user > Mail > Manage email apps > Authenticated SMTP (or Set-CASMailbox -Identity MAILBOX -SmtpClientAuthenticationDisabled $false).")},
	{"SMTP 5.7.139", "SMTP 535 5.7.139 `Authentication unsuccessful, ...` (other reasons)", smtpCode(5, 7, 139),
		say("Microsoft 365 refused the SMTP sign-in (5.7.139): the password is wrong, or a policy (Conditional Access, Basic authentication turned off) blocks it. Passwords and app passwords are being retired for SMTP AUTH: give [notify] an auth = \"oauth2\" account (delegated with the scope https://outlook.office.com/SMTP.Send, or app-only with SMTP.SendAsApp).")},
	{"SMTP 5.7.3", "SMTP 535 5.7.3 `Authentication unsuccessful`", all(smtpCode(5, 7, 3), fromMicrosoft),
		say("Microsoft 365 refused the SMTP sign-in (5.7.3). With an app-only token: the app needs the application permission SMTP.SendAsApp (Office 365 Exchange Online) with admin consent, its service principal in Exchange (New-ServicePrincipal) with a permission on the mailbox (Add-MailboxPermission), and SMTP AUTH allowed for the mailbox (Set-CASMailbox -Identity MAILBOX -SmtpClientAuthenticationDisabled $false). With a delegated token: the scope https://outlook.office.com/SMTP.Send (then `mailtask auth login ACCOUNT`) and SMTP AUTH for the mailbox. With a password: Microsoft is retiring it, use OAuth2.")},
	{"SendAsDenied", "SMTP 554 5.2.0 `...SendAsDeniedException...` or 5.7.60", func(f *failure) bool {
		return smtpCode(5, 7, 60)(f) || contains("sendasdenied")(f)
	}, say("The SMTP server refused to send as the From address: it must be the mailbox that signs in ([notify] from, or leave it out).")},
	// Microsoft 365's limits on sending from one mailbox.
	{"SMTP concurrent connections", "SMTP 432 4.3.2 `Concurrent connections limit exceeded` or `STOREDRV.ClientSubmit; sender thread limit exceeded`", all(smtpCode(4, 3, 2), smtpSays("concurrent connections limit", "sender thread limit")),
		say("Microsoft 365 lets a mailbox hold 3 SMTP connections at once and refused one more (4.3.2): other programs or devices send through [notify]'s mailbox at the same time as mailtask, which sends one mail at a time. The mails stay due and go with the next minute; if this goes on, give [notify] a mailbox of its own.")},
	{"SMTP recipient rate limit", "SMTP 554 5.2.0 `STOREDRV.Submission.Exception:SubmissionQuotaExceededException`", smtpSays("submissionquotaexceeded"),
		say("Microsoft 365 sends nothing more from [notify]'s mailbox for now: it has sent to over 10,000 recipients in the past 24 hours, and stays blocked until that count falls below. Give [notify] a mailbox of its own, one no script or other program sends from.")},
	{"SMTP mailbox full", "SMTP 554 5.2.2 `mailbox full; STOREDRV.Submission.Exception:QuotaExceededException...`", all(smtpCode(5, 2, 2), smtpSays("quotaexceeded")),
		say("[notify]'s mailbox is full, and Microsoft 365 sends nothing from a full mailbox (5.2.2). It keeps every mail sent over SMTP AUTH in Sent Items: empty them, and give the mailbox a retention policy that deletes Sent Items after some days.")},
	{"SMTP continuous error throttling", "SMTP 550 5.2.251 to 5.2.255 `Sender throttled due to continuous ... errors`", smtpSays("sender throttled due to continuous"),
		say("Microsoft 365 has stopped taking mail over SMTP AUTH from [notify]'s mailbox for a while, after many submissions failed the same way; the reply says which (mailbox full, send-as denied, licence, recipients). Mend that cause: the block lifts by itself some time after.")},
	{"SMTP AUTH refused", "SMTP 535 (5.7.8, 5.7.3, ...) to AUTH", smtpAuthRefused,
		byHost("Microsoft refused the SMTP sign-in: check [notify]'s account (username and its password or token) and that SMTP AUTH is allowed for the mailbox (Microsoft 365 admin center > Users > the user > Mail > Manage email apps > Authenticated SMTP).",
			"The SMTP server refused the user name or password of [notify]'s account. Check its username and password source; a provider with 2-step verification (Gmail, Yahoo, iCloud) wants an app password there, not the account's own.")},
	{"no token mechanism", "IMAP/POP3 capabilities without XOAUTH2 or OAUTHBEARER", contains("offers neither xoauth2 nor oauthbearer"),
		say("This server does not take OAuth2 tokens. For Microsoft 365 use host outlook.office365.com; for Gmail imap.gmail.com or pop.gmail.com; for other servers use auth = \"password\".")},
	{"token refused", "IMAP NO `AUTHENTICATE failed.` after AUTHENTICATE XOAUTH2/OAUTHBEARER; POP3 -ERR to AUTH XOAUTH2", contains("authenticate xoauth2", "auth xoauth2 refused", "authenticate oauthbearer", "auth oauthbearer refused"),
		byHost("Exchange refused the OAuth2 token. Most often: the token is for the wrong resource, such as a Microsoft Graph scope (IMAP needs https://outlook.office.com/IMAP.AccessAsUser.All, POP https://outlook.office.com/POP.AccessAsUser.All, app-only https://outlook.office365.com/.default); IMAP or POP is disabled for the mailbox (Exchange admin center > Recipients > Mailboxes > the mailbox > Manage email apps); username is not the mailbox the token belongs to; the user has no Exchange Online licence; or, for app-only tokens, Exchange lacks the app's service principal or its mailbox permission (New-ServicePrincipal and Add-MailboxPermission; verify with Get-ServicePrincipal and Get-MailboxPermission; see the README).",
			"The mail server refused the OAuth2 token. Check that username is the account that signed in (`mailtask auth status ACCOUNT` shows who), that the scopes are the ones this server wants (Google: https://mail.google.com/; leave oauth2.scopes out for the provider's defaults), and that IMAP or POP is allowed for the account; then sign in again with `mailtask auth login ACCOUNT`.")},
	{"login delay", "POP3 -ERR `[LOGIN-DELAY] ...` to USER/PASS (RFC 2449; Cyrus popminpoll)", contains("[login-delay]"),
		say("The POP3 server allows only one sign-in per mailbox in a given time (RFC 2449 LOGIN-DELAY; Cyrus: popminpoll). The run retries after the delay it announces; schedule the task no more often than that, or ask the server's admin to shorten it.")},
	{"plain text refused", "IMAP LOGINDISABLED or NO `[PRIVACYREQUIRED] ...`; POP3 -ERR `... only available under a layer`", contains("logindisabled", "[privacyrequired]", "plaintext authentication disallowed", "only available under a layer", "no password was sent"),
		say("The server takes no password over an unencrypted connection, so none was sent. Set the account's tls = \"starttls\" (ports 143/110) or tls = \"implicit\" (ports 993/995).")},
	{"password refused", "IMAP NO `LOGIN failed.` / `[AUTHENTICATIONFAILED] ...`; POP3 -ERR to PASS or AUTH PLAIN", func(f *failure) bool {
		return f.smtp == nil && contains("login failed", "authenticationfailed", "invalid credentials", "[auth]", "authentication failed", "authentication failure", "logon failure",
			"user name or passwd rejected")(f) // GNU Mailutils
	}, byHost(exchangeOnlineNoPasswords,
		"The server refused the user name or password. Check username and the password source (password_env, password_file); a provider with 2-step verification (Gmail, Yahoo, iCloud) wants an app password here, not the account's own; and check that IMAP or POP is enabled for the account.")},

	// What is asked of the server once signed in. A refused after-action
	// comes first: the server's words in it (quota, rights, a missing
	// folder) concern move_to, not the task's mailbox.
	{"action over quota", "IMAP NO `Over quota` / `[OVERQUOTA] ...` to UID MOVE or UID COPY", all(refusedAction, contains("quota")),
		say("The folder the after-action moves to (move_to, or the failure action's) is over quota. Free space there or raise its quota; the messages are taken, and their action stays due and is retried by every run.")},
	{"action without the right", "IMAP NO `[NOPERM] ...` / `Access denied ...` to UID MOVE, COPY, STORE or EXPUNGE", all(refusedAction, contains("permission denied", "access denied", "[noperm]", "not allowed", "no permission")),
		say("The account lacks a right the after-action needs (RFC 4314: i, insert, on move_to for a move; t and e on the folder for move and delete; s for seen, w for flag and keyword). Ask the server's admin to grant it; the messages are taken, and their action stays due and is retried by every run.")},
	{"action refused", "IMAP NO/BAD to UID MOVE, COPY, STORE or EXPUNGE; POP3 -ERR to DELE", isError[*mailbox.RefusedError],
		say("The server refused the after-action (its reply says why); the messages are taken, and their action stays due and is retried by every run. Fix the cause on the server, or change after.")},
	{"missing folder", "IMAP NO `[NONEXISTENT] ...` to SELECT; GNU Mailutils `NO ... Could not open ...: No such file or directory`", func(f *failure) bool {
		return contains("mailbox doesn't exist", "mailbox does not exist", "[nonexistent]", "no such mailbox", "folder not found", "unknown mailbox")(f) ||
			all(contains("could not open"), contains("no such file or directory"))(f)
	},
		say("The folder does not exist on the server. Check the task's mailbox (and move_to); folder names are case-sensitive except INBOX, and sub-folders use the server's separator, e.g. \"INBOX/Invoices\" or \"Inbox.Invoices\".")},

	// TLS and the network.
	{"unknown CA", "TLS handshake: certificate signed by an unknown authority", isError[x509.UnknownAuthorityError],
		say("The server's certificate is signed by an authority this machine does not trust. If it is a private CA, put its PEM in the account's ca_file.")},
	{"wrong host name", "TLS handshake: certificate not valid for the host", isError[x509.HostnameError],
		say("The server's certificate is not valid for the host name in the config. Use the name on the certificate as host (for Microsoft 365: outlook.office365.com).")},
	{"invalid certificate", "TLS handshake: certificate expired or not yet valid", isError[x509.CertificateInvalidError],
		say("The server's certificate is invalid (expired or not yet valid?). Check the clock of this machine and the server's certificate.")},
	{"port speaks TLS", "greeting: TLS bytes, or silence, where tls = \"none\" or \"starttls\" expects text", contains("this port speaks tls"),
		say("The port answers with TLS from the first byte: set the account's tls = \"implicit\" (the usual ports are 993 for IMAP and 995 for POP3), or use the plain-text port with tls = \"starttls\".")},
	{"not TLS", "TLS handshake: the server answered in plain text", isError[tls.RecordHeaderError],
		say("The server did not answer with TLS. The port probably expects plain text first: use tls = \"starttls\" (ports 143/110), or tls = \"implicit\" with ports 993/995.")},
	{"connection refused", "connect: ECONNREFUSED", func(f *failure) bool { return errors.Is(f.err, syscall.ECONNREFUSED) },
		say("Nothing accepts connections at that host and port. Check host and port (IMAP 993 implicit TLS / 143 STARTTLS; POP3 995 / 110) and any firewall.")},
	{"unknown host", "connect: the host name does not resolve", isError[*net.DNSError],
		say("The host name does not resolve. Check host (for Microsoft 365: outlook.office365.com) and this machine's DNS.")},
	{"run timeout", "the task's own timeout ran out while the server kept answering (local work, or more mail than a run can take)", func(f *failure) bool { return runDeadline(f.err) },
		say(runDeadlineHint)},
	{"timeout", "no answer within the account's timeout", func(f *failure) bool {
		var ne net.Error
		return errors.Is(f.err, context.DeadlineExceeded) || (errors.As(f.err, &ne) && ne.Timeout())
	}, say("The server did not answer in time. Check that the host and port are reachable from this machine (firewall, proxy); raise the account's timeout if the server is just slow.")},
}
