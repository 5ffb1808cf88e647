// Package mailgen builds mail byte by byte, the way real clients write
// it: envelopes, multiparts, text and HTML parts, attachments named in
// each of the spellings clients use (quoted, RFC 2231, RFC 2047, name=
// only), and files to attach (PDF, PNG, JPEG, ZIP, CSV) that are valid
// and of a chosen size. Everything is deterministic: the same calls, or
// the same random source, give the same bytes.
//
// It serves the demo's corpus (internal/demo) and the test corpora
// (internal/testmail), so it is compiled into the binary and must stay
// free of test servers.
package mailgen
