package mailbox

import (
	"context"
	"io"
	"time"
)

// Query is what a server can evaluate of a task's rules (IMAP SEARCH).
// Every term is a necessary condition of a match: a message the query
// leaves out cannot match, so it is never downloaded.
type Query struct {
	Header    []HeaderTerm // each must hold
	SentSince time.Time    // the Date header's day is this day or later
	Larger    int64        // size greater than this, when not 0
	Smaller   int64        // size less than this, when not 0
	Unseen    bool         // no \Seen flag
}

// HeaderTerm holds when the field contains any of the substrings,
// ignoring case.
type HeaderTerm struct {
	Field string
	AnyOf []string
}

// IsZero reports whether the query holds no term.
func (q Query) IsZero() bool {
	return len(q.Header) == 0 && q.SentSince.IsZero() && q.Larger == 0 && q.Smaller == 0 && !q.Unseen
}

// Searcher is a Session that can narrow New by a Query on the server.
type Searcher interface {
	// NewMatching is New for the messages that satisfy q. The messages
	// New would return that q leaves out are in Found.Left: they do not
	// match as far as the server's search can tell now. Of those, the
	// ones that satisfy any of watch are in Found.Watched too, for the
	// caller to read their header though it takes none.
	NewMatching(ctx context.Context, taken Taken, q Query, watch []HeaderTerm) (Found, error)
}

// HeaderFetcher is a Session that can fetch the header of a message alone,
// so that rules the server cannot search for are checked before the whole
// message is downloaded.
type HeaderFetcher interface {
	// FetchHeaders streams the header block of each of msgs to deliver,
	// in order, as Fetch does whole messages; it changes nothing on the
	// server (no \Seen). Of a header longer than MaxHeader it may
	// deliver only the first MaxHeader+1 bytes, enough to tell it is.
	FetchHeaders(ctx context.Context, msgs []Message, deliver func(Message, io.Reader) error) error
}

// MaxHeader bounds the header block a caller of FetchHeaders needs. A
// longer one is not asked for whole: over IMAP it could exceed
// max_message_size, whose bound on what the server sends would then fail
// the fetch on every run.
const MaxHeader = 1 << 20
