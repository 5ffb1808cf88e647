// Package testmail holds the servers and fixtures mailtask is tested (and
// demonstrated) against: a throwaway TLS certificate authority, an in-process
// IMAP server, an in-process POP3 server, a fake Microsoft identity platform
// (idp.go: the OAuth2 endpoints, AADSTS errors, token introspection), and a
// generated corpus of realistic and hostile messages, with the shapes of
// real-world mail plain MIME parsers miss (corpus_fidelity.go: uuencode,
// winmail.dat built by TNEF, S/MIME, inline forwards, names in 14 charsets).
//
// It is an ordinary package rather than test-only code because `mailtask demo`
// runs the real task path against these servers.
package testmail
