// Package diagnose turns a failure — a server's reply, a network error, an
// identity-platform code — into a hint in plain language: the likely cause
// and the setting to change. The hints are one table, the catalogue: each
// row names the reply it recognises as it arrives (an IMAP or POP3 refusal,
// an SMTP reply with its enhanced status code, the token endpoint's JSON
// error, a network or TLS failure) and the advice for it. Advice that holds
// only for Microsoft's servers is given only when the failure came from one
// of them: the errors of mailbox sessions, notifications and identity
// requests name their server (ServerHost).
package diagnose
