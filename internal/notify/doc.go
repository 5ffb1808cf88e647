// Package notify mails an operator about tasks over SMTP: a failure as it
// starts, reminders while it goes on (spaced out, remembered across
// restarts), the recovery, and a digest of every task's last run, leading
// with the tasks that need a look. A run records the mail it makes due;
// the mails due go out within a window's (a minute's) budget of 3 mails,
// one by one while they fit, else as one mail grouping the tasks by
// cause, so that an outage failing thousands of mailboxes is one mail,
// not thousands throttled by the SMTP server. What it mailed, the mails
// due, the send that keeps failing (for `mailtask status`), and the
// states the digest reports are in a Store: the files under state_dir,
// or cluster mode's database, where nodes take turns deciding about a
// task's mail and spending a window's budget, and one node sends each
// scheduled digest for the cluster.
//
// Microsoft 365's submission endpoint (smtp.office365.com:587) is the
// default: STARTTLS, then AUTH with the same mailbox credentials the task
// polls with. Microsoft offers LOGIN and XOAUTH2, not PLAIN, and refuses a
// From other than the signed-in mailbox; the configuration checks the
// latter. The credential is an Auth, which picks a SASL mechanism among
// those the server offers, so an OAuth2 token source plugs in beside the
// password.
package notify
