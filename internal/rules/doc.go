// Package rules decides what a task takes: which messages ([task.match])
// and which of their files ([task.attachments]).
//
// Patterns are case-insensitive globs ('*' any run of characters, '?' one
// character, '\' makes the next character literal) or, in the *_regex
// keys, Go regular expressions (RE2: linear time whatever a sender puts in
// a header). Keys are ANDed, patterns within a key ORed.
//
// A message rule set also says what of it a server can evaluate: Query
// gives the terms an IMAP UID SEARCH applies, each a necessary condition
// of a match, so non-matching mail is never downloaded: by default the
// flags alone, since search indexes (Exchange, Gmail) leave out messages
// whose header matches; for an account that trusts its server's search
// (server_search = "all"), also a glob's longest literal run as a
// substring, a day before a date bound and exact sizes. What the search
// did not apply, MatchHeader checks on a message's header and announced
// size alone (MatchSize on the size when no header is read), before it is
// downloaded, when NeedsHeader says it is worth fetching the header
// first; Match then decides exactly on the parsed message.
//
// Automatic mail (automatic.go) is mail no person wrote, sent back in
// answer to mail the mailbox's own side sent: delivery reports, automatic
// replies, read receipts. Classify tells it by its top-level header alone;
// a task skips the kinds its skip_automatic names (all of them by default)
// as it skips mail its other rules refuse. It is never asked of the
// server: Exchange's SEARCH on arbitrary header fields is unreliable, and
// a term the server got wrong would leave real mail recorded as done,
// never looked at.
package rules
