package diagnose

import (
	"fmt"
	"regexp"
)

// A mail server's limits on one account: connections at once, a POP3
// maildrop one session at a time, requests or bytes in a time. Each of
// these refusals passes (mailbox.NotNow): the run retries it, nothing is
// taken or marked, and no message is counted as failed. When it recurs,
// the fix is the admin's, and it is nearly always the account's
// max_connections, the tasks that share the mailbox, or their schedules.
// Their rows come before the refused token and password: a sign-in
// refused for one connection too many is no wrong password.

// mailServer matches failures that are not an SMTP reply: the limits
// below are those of IMAP and POP3 servers, and Microsoft 365's SMTP
// limits have rows of their own.
func mailServer(f *failure) bool { return f.smtp == nil }

// nothingLost is what every limit row says of the run that met it.
const nothingLost = " Nothing was taken or marked and no message counts as failed: the run retries, and the next run takes the mail."

// userIPLimit finds the limit Dovecot names in its refusal.
var userIPLimit = regexp.MustCompile(`mail_max_userip_connections=(\d+)`)

// tooManyConnections is the hint for a connection refused because the
// mailbox has as many as the server allows; with the number when the
// server names it (Dovecot does).
func tooManyConnections(f *failure) string {
	allows := "as many as the server allows at once (Dovecot: mail_max_userip_connections, 10 by default, counted per user and client address and for IMAP and POP3 apart; Gmail: 15)"
	limit := "the limit"
	if m := userIPLimit.FindStringSubmatch(f.text); m != nil {
		allows = fmt.Sprintf("the %s the server allows at once from one address (Dovecot's mail_max_userip_connections=%s, counted for IMAP and POP3 apart)", connectionsWord(m[1]), m[1])
		limit = m[1]
	}
	return "The server refused a connection because this mailbox already has " + allows + "." + nothingLost +
		" If it recurs, mailtask's connections and other clients' together exceed the limit: set the account's max_connections no higher than " + limit + ", less what the mailbox's other clients hold (each run takes one connection, fetching takes up to the task's connections, a task with idle = true holds one all along); let fewer tasks poll this mailbox, or schedule them apart; or have the server's admin raise the limit."
}

// connectionsWord is "1 connection" or "N connections".
func connectionsWord(n string) string {
	if n == "1" {
		return "1 connection"
	}
	return n + " connections"
}

const (
	maildropInUseHint = "The POP3 server lets one session at a time open a mailbox, and another holds it: another POP3 client, or another run or connection of mailtask's on the same mailbox." + nothingLost +
		" If it recurs: set the account's max_connections = 1, so that mailtask's runs and fetches on this mailbox never overlap (tasks sharing it then wait for each other), and keep other POP3 clients off it or have them poll less often. IMAP, where the server offers it, lets several sessions share a mailbox."
	bandwidthHint = "Gmail has stopped serving this account over IMAP for a while: it has downloaded or asked more than Gmail allows (Google Workspace: 2,500 MB of IMAP downloads a day), and lifts the block by itself, within a day." + nothingLost +
		" To stay under it: take only the mail the task needs (its match rules, max_message_size), no other client syncing the whole account, and a less frequent schedule while a large backlog is taken."
	throttledMicrosoftHint = "Exchange Online is throttling this mailbox (Request is throttled): too many requests in a short time, from mailtask and every other client of the mailbox together." + nothingLost +
		" If it recurs: schedule the task less often, lower the account's max_connections and the task's connections, and let fewer tasks poll the same mailbox."
	throttledHint = "The server is limiting how much this account may ask of it in a time (its rate limit)." + nothingLost +
		" If it recurs: schedule the task less often, lower the account's max_connections and the task's connections, and let fewer tasks poll the same mailbox."
	unavailableMicrosoftHint = "Exchange Online says it cannot serve this mailbox for now (Server Unavailable): trouble in its back end that passes, or throttling." + nothingLost +
		" If it recurs at every run, check the service health in the Microsoft 365 admin center, and schedule the task less often."
	unavailableHint = "The server says it cannot serve this account for now ([UNAVAILABLE] or POP3's [SYS/TEMP]): trouble on its side that passes, or its answer to one connection too many." + nothingLost +
		" If it recurs at every run, check the server's status, and that the account's max_connections leaves room for the mailbox's other clients."
	// The server ended the session, in the middle of a run: what the run
	// committed stays, and its retry takes the rest.
	sessionEndedRetried     = " What the run had committed stays, no message counts as failed, and the run is retried for the rest (the task's retries)."
	sessionTokenExpiredHint = "Exchange ended the session because the OAuth2 access token it signed in with expired (Session invalidated - AccessTokenExpired): it checks a token's lifetime, about an hour, during the session and not only at sign-in, so a run that lasts longer than its token had left meets this; mailtask signs in again with a new token when it retries." + sessionEndedRetried +
		" If it recurs within minutes of a run's start, this machine's clock is probably off by more than the 5 minutes mailtask keeps in hand before a token expires: synchronise it (timedatectl set-ntp true, chrony or ntpd)."
	shuttingDownHint = "The server ended the session because it is shutting down or restarting (Server shutting down.): maintenance, an upgrade, a reload of its configuration." + sessionEndedRetried +
		" If it recurs, ask the server's admin; nothing needs changing on mailtask's side."
	inactivityHint = "The server ended the session because mailtask had sent it nothing for longer than it allows (Disconnected for inactivity.; Dovecot: 30 minutes after sign-in, 3 minutes before it, 10 minutes for POP3)." + sessionEndedRetried +
		" If it recurs, something held the run that long between two commands: a slow destination or hook, or a wait for one of the account's max_connections; with idle = true, idle_reissue must stay shorter than the server's limit. The account's timeout bounds how long mailtask waits for the server, not how long the server waits for mailtask: raising it does not help."
)
