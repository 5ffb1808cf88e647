// Package push delivers mail as it arrives: a Watcher keeps one IMAP
// connection per task open on the task's folder, read-only, in IDLE
// (RFC 2177), and asks for a run of the task whenever the server reports
// that the folder grew. The run itself is the scheduler's, with its locks,
// limits and overlap policy; a watcher never touches a message.
//
// What a watcher does about the servers and networks it meets:
//   - it ends IDLE and sends it again every idle_reissue (25 minutes by
//     default), before a server's inactivity timeout (Exchange Online's is
//     30 minutes) drops the connection;
//   - a server that does not answer DONE within the account's timeout, or
//     a connection that drops, is reconnected with backoff (5 s doubling to
//     5 minutes), and the task is run after every such reconnect, since
//     mail may have arrived while nobody watched;
//   - a server without IDLE is polled instead, warned about once: on the
//     task's schedule, or every config.IdlePoll when it has none. Only its
//     CAPABILITY answer says so: a CAPABILITY the server cut (a BYE) is a
//     dropped connection, reconnected;
//   - the connection counts against the account's max_connections. When a
//     run it asks for finds no connection of the account free, the watcher
//     gives the run its own: it logs out, waits for the task's runs to end,
//     and reconnects, running the task again only if the folder's UIDNEXT
//     moved past where it stood when the watcher let go.
//
// The scheduler starts and stops a watcher per task (Start, Stop); that
// is the seam through which anything else (a cluster lease) decides
// whether this process watches a task at all.
package push
