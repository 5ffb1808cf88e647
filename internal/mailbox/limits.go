package mailbox

import "fmt"

// What a session takes from a server is bounded, whatever the server
// sends: lines and listings here and in each protocol's package, a
// message by its size.

// MaxListing bounds how many messages a session lists in one folder. An
// IMAP session lists the lowest UIDs up to it, and later runs the rest; a
// POP3 maildrop larger than it is refused (POP3 cannot list part of one).
const MaxListing = 1_000_000

// DefaultMaxMessageSize is the largest message a session takes unless
// told otherwise (SizeLimiter).
const DefaultMaxMessageSize int64 = 1 << 30

// SizeLimiter is a Session whose Fetch and FetchHeaders refuse a message
// the server announces larger than a limit, without reading it.
type SizeLimiter interface {
	// LimitMessageSize sets the limit, in bytes; 0 or less means
	// DefaultMaxMessageSize.
	LimitMessageSize(limit int64)
}

// TooLargeError is a message the server announced larger than the
// session's limit. Fetch stops at it and returns it, wrapped in an *Error
// that is not transient, having delivered the messages before it: the
// message itself was neither read nor stored. An IMAP session is closed
// by then (the server would go on sending the message), a POP3 one is not
// (it never asked for it): to go on, the caller opens a new session if
// the old one fails.
type TooLargeError struct {
	Msg   Message
	Size  int64 // as the server announced it
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: the server announces %d bytes, more than the %d a message may have (max_message_size); it was not downloaded", e.Msg.Key(), e.Size, e.Limit)
}

// EffectiveLimit returns the limit a SizeLimiter is given, its default
// applied.
func EffectiveLimit(limit int64) int64 {
	if limit <= 0 {
		return DefaultMaxMessageSize
	}
	return limit
}
