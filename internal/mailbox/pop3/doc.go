// Package pop3 is mailtask's POP3 client (RFC 1939, with CAPA from RFC
// 2449, STLS from RFC 2595 and AUTH from RFC 5034).
//
// It exists because the available Go clients corrupt messages: it streams
// RETR bodies through its own dot-unstuffing reader, byte for byte, with
// lines of any length and without holding a message in memory. Every
// command is bounded by a context and an inactivity timeout, so a stalled
// server fails in seconds while a large message streaming steadily never
// does. Errors name the server and the command, never a password or an
// authentication blob.
//
// Whatever a server sends is bounded: reply lines (8 KB), CAPA listings,
// and UIDL and LIST listings, whose message numbers are checked
// (listing.go); a message larger than the session's limit is not
// retrieved (limits.go). UIDLs a server lists twice, and identical
// messages on a server without UIDL, are told apart so that none is lost.
package pop3
