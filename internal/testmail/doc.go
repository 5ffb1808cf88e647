// Package testmail holds the servers and fixtures mailtask is tested
// against: an in-process IMAP server, an in-process IMAP host of many
// mailboxes that counts each one's connections and cuts them on demand
// (imaphost.go, for cluster chaos tests), an in-process POP3 server, an SMTP
// server, a fake Microsoft identity platform (idp.go: the OAuth2
// endpoints, AADSTS errors, token introspection, client assertions
// verified against the app's certificates; Google's token endpoint for
// service accounts, idp_google.go), a fault proxy, and
// generated corpora of realistic and hostile messages, with the shapes of
// real-world mail plain MIME parsers miss (corpus_fidelity.go: uuencode,
// winmail.dat built by TNEF, S/MIME, inline forwards, names in 14 charsets).
//
// It builds on internal/demo (the certificate authority, the demo's
// corpus) and internal/mailgen (how messages are written), which the
// binary links for `mailtask demo`; this package is for tests and
// benchmarks only and must never be linked into the binary.
package testmail
