// Package notify mails an operator about tasks over SMTP: a failed run as
// it happens, and a digest of every task's last run.
//
// Microsoft 365's submission endpoint (smtp.office365.com:587) is the
// default: STARTTLS, then AUTH with the same mailbox credentials the task
// polls with. Microsoft offers LOGIN and XOAUTH2, not PLAIN, and refuses a
// From other than the signed-in mailbox; the configuration checks the
// latter. The credential is an Auth, which picks a SASL mechanism among
// those the server offers, so an OAuth2 token source plugs in beside the
// password.
package notify
