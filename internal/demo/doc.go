// Package demo is what `mailtask demo` runs against: an IMAP server over
// TLS on loopback (Mailbox), the throwaway certificate authority that
// signs its certificate (CA), and the two dozen realistic messages its
// INBOX holds (Corpus).
//
// It is compiled into the binary, so it holds nothing else: the test
// servers and fault injection live in internal/testmail, which reuses
// this package, never the other way round (the layering check in `make
// test` holds it to that).
package demo
