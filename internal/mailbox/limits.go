package mailbox

// What a session takes from a server is bounded, whatever the server
// sends: lines and listings here and in each protocol's package, a
// message by its size.

// MaxListing bounds how many messages a session lists in one folder. An
// IMAP session lists the lowest UIDs up to it, and later runs the rest; a
// POP3 maildrop larger than it is refused (POP3 cannot list part of one).
const MaxListing = 1_000_000
