package rules

import (
	"fmt"
	"maps"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/extract"
	"mailtask/internal/mailbox"
)

// Set is a task's compiled [task.match].
type Set struct {
	from, to, cc, subject Patterns
	headers               []headerRule // sorted by field name
	body                  []string     // lower case
	since                 time.Time
	maxAge                time.Duration
	minSize, maxSize      int64
	hasAttachments        *bool
	unseenOnly            bool
	skipAutomatic         []string // kinds of automatic mail not taken
}

// RuleAutomatic is the rule Match and MatchHeader name for a message they
// refuse as automatic mail; Skipped says what kind, and why.
const RuleAutomatic = "skip_automatic"

type headerRule struct {
	field    string // canonical
	patterns Patterns
}

// New compiles m; dates written without a zone are read in loc.
func New(m config.Match, loc *time.Location) (*Set, error) {
	s := &Set{
		since:          m.Since.In(loc),
		maxAge:         m.MaxAge.Std(),
		minSize:        int64(m.MinSize),
		maxSize:        int64(m.MaxSize),
		hasAttachments: m.HasAttachments,
		unseenOnly:     m.UnseenOnly,
		skipAutomatic:  m.SkipAutomatic,
	}
	var err error
	for _, f := range []struct {
		dst            *Patterns
		globs, regexes []string
	}{
		{&s.from, m.From, m.FromRegex},
		{&s.to, m.To, m.ToRegex},
		{&s.cc, m.Cc, m.CcRegex},
		{&s.subject, m.Subject, m.SubjectRegex},
	} {
		if *f.dst, err = NewPatterns(f.globs, f.regexes); err != nil {
			return nil, err
		}
	}
	fields := map[string]bool{}
	for name := range m.Header {
		fields[name] = true
	}
	for name := range m.HeaderRegex {
		fields[name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		var globs, regexes []string
		if g, ok := m.Header[name]; ok {
			globs = []string{g}
		}
		if r, ok := m.HeaderRegex[name]; ok {
			regexes = []string{r}
		}
		p, err := NewPatterns(globs, regexes)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", name, err)
		}
		s.headers = append(s.headers, headerRule{field: textproto.CanonicalMIMEHeaderKey(name), patterns: p})
	}
	for _, b := range m.BodyContains {
		s.body = append(s.body, strings.ToLower(b))
	}
	return s, nil
}

// Query returns what of the rules a server's search applies at time now.
// By default (all false) that is the flags alone: a server's SEARCH
// evaluates them exactly, but answers header, date and size keys from an
// index that leaves out messages that match (Exchange finds nothing for
// FROM "user@domain" where HEADER FROM finds it, and compares LARGER and
// SMALLER with the stored size when it does not know the RFC 822 size;
// Gmail's SUBJECT misses subjects that hold the string), so those are
// checked on each header instead. all (server_search = "all") adds them,
// for a server the admin trusts to follow RFC 3501: the sizes exactly,
// the rest as necessary conditions.
func (s *Set) Query(now time.Time, all bool) mailbox.Query {
	q := mailbox.Query{Unseen: s.unseenOnly}
	if !all {
		return q
	}
	for _, f := range []struct {
		field string
		p     Patterns
	}{{"From", s.from}, {"To", s.to}, {"Cc", s.cc}, {"Subject", s.subject}} {
		if lits, ok := f.p.literals(); ok {
			q.Header = append(q.Header, mailbox.HeaderTerm{Field: f.field, AnyOf: lits})
		}
	}
	for _, h := range s.headers {
		if lits, ok := h.patterns.literals(); ok {
			q.Header = append(q.Header, mailbox.HeaderTerm{Field: h.field, AnyOf: lits})
		}
	}
	if earliest := s.earliest(now); !earliest.IsZero() {
		// SENTSINCE compares the day of the Date header in its own zone;
		// a day earlier in UTC covers every zone.
		day := earliest.UTC().AddDate(0, 0, -1)
		q.SentSince = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	}
	if s.minSize > 0 {
		q.Larger = s.minSize - 1
	}
	if s.maxSize > 0 {
		q.Smaller = s.maxSize + 1
	}
	return q
}

// earliest is the lower bound on a message's date, zero if none.
func (s *Set) earliest(now time.Time) time.Time {
	t := s.since
	if s.maxAge > 0 {
		if byAge := now.Add(-s.maxAge); byAge.After(t) {
			t = byAge
		}
	}
	return t
}

// Input is what Match needs besides the parsed message.
type Input struct {
	Size  int64     // the raw message's size in bytes
	Files int       // attachments the task's [task.attachments] selects
	Now   time.Time // for max_age
	// Searched is set when the server applied Query(now, true): the
	// sizes it searched for are not checked again. A size not pushed
	// into the search (Query(now, false)) is checked here.
	Searched bool
	// Announced is set when Size is what the server's listing announced
	// (IMAP RFC822.SIZE, POP3 LIST), before the message was downloaded,
	// rather than the bytes it sent: it is judged with announcedSlack.
	Announced bool
}

// Match reports whether msg satisfies every rule, and if not, the first
// rule it fails, for the log.
func (s *Set) Match(msg *extract.Message, in Input) (ok bool, why string) {
	if ok, why := s.MatchHeader(msg, in); !ok {
		return false, why
	}
	if len(s.body) > 0 && !bodyContains(msg, s.body) {
		return false, "body_contains"
	}
	if s.hasAttachments != nil && (in.Files > 0) != *s.hasAttachments {
		return false, "has_attachments"
	}
	return true, ""
}

// NeedsHeader reports whether reading a message's header first can spare
// downloading it: whether there are rules on header fields or the date
// that the server did not already apply (searched: Query(now, true) was
// used, and every field rule went into it as exact text). skip_automatic alone does
// not make it worth it: automatic mail is a few messages in a thousand,
// and fetching every header first would cost each run a round trip per
// batch (per message on POP3) to spare downloading those few. It is
// checked on the header wherever one is read anyway, else once the
// message is downloaded.
func (s *Set) NeedsHeader(searched bool) bool {
	fields := []Patterns{s.from, s.to, s.cc, s.subject}
	for _, h := range s.headers {
		fields = append(fields, h.patterns)
	}
	some := !s.since.IsZero() || s.maxAge > 0
	for _, p := range fields {
		if !p.Set() {
			continue
		}
		some = true
		if _, pushed := p.literals(); searched && !pushed {
			return true
		}
	}
	return some && !searched
}

// MatchHeader is Match on what a message's header and size say, leaving
// out the rules on its body and attachments. A message it refuses is
// refused by Match too; one it accepts must still pass Match once parsed
// whole. Called with a message parsed from the header alone, it decides
// whether the message is worth downloading.
func (s *Set) MatchHeader(msg *extract.Message, in Input) (ok bool, why string) {
	if s.from.Set() && !s.from.Match(addressValues(msg, "From")...) {
		return false, "from"
	}
	if s.to.Set() && !s.to.Match(addressValues(msg, "To")...) {
		return false, "to"
	}
	if s.cc.Set() && !s.cc.Match(addressValues(msg, "Cc")...) {
		return false, "cc"
	}
	if s.subject.Set() && !s.subject.Match(msg.Subject) {
		return false, "subject"
	}
	for _, h := range s.headers {
		if !h.patterns.Match(msg.Header[h.field]...) {
			return false, "header " + h.field
		}
	}
	if earliest := s.earliest(in.Now); !earliest.IsZero() && (msg.Date.IsZero() || msg.Date.Before(earliest)) {
		return false, "since/max_age"
	}
	if !in.Searched {
		if ok, why := s.MatchSize(in.Size, in.Announced); !ok {
			return false, why
		}
	}
	if s.Skipped(msg).Kind != "" {
		return false, RuleAutomatic
	}
	return true, ""
}

// MatchSize is MatchHeader on the size alone: whether a message of size
// bytes is within min_size and max_size, and if not, which it fails. It
// decides on the size a listing announces (POP3 LIST, IMAP RFC822.SIZE)
// when no header is read; announced, the bounds are widened by
// announcedSlack.
func (s *Set) MatchSize(size int64, announced bool) (ok bool, why string) {
	lo, hi := s.minSize, s.maxSize
	if announced {
		lo, hi = lo-lo/announcedSlack, hi+hi/announcedSlack
	}
	if s.minSize > 0 && size < lo {
		return false, "min_size"
	}
	if s.maxSize > 0 && size > hi {
		return false, "max_size"
	}
	return true, ""
}

// announcedSlack is the part (1/10) of min_size and max_size by which a
// size the server announces may miss them and the message still be
// downloaded, to be judged on the bytes it sends. A refusal before the
// download is final, and servers work out the size they announce apart
// from what they send: hMailServer announced 29 bytes fewer than it sent
// (hmailserver#476), another server 1.4% more (imap_tools#60), and
// Exchange's search takes the size of its own storage where it does not
// know the message's ([MS-OXIMAP] V0040). A message near a bound costs a
// download; one judged on its announced size alone could be lost.
const announcedSlack = 10

// Skipped is what makes msg automatic mail of a kind the task does not
// take (skip_automatic); its zero value when the task takes msg whatever
// it is. The header alone decides it.
func (s *Set) Skipped(msg *extract.Message) Automatic {
	if len(s.skipAutomatic) == 0 {
		return Automatic{}
	}
	if a := Classify(msg.Header, msg.Subject); a.Kind != "" && slices.Contains(s.skipAutomatic, a.Kind) {
		return a
	}
	return Automatic{}
}

// addressValues are what an address pattern is matched against: each bare
// address and each display name of the field, or its whole text when it
// does not parse as an address list.
func addressValues(msg *extract.Message, field string) []string {
	var values []string
	for _, text := range msg.Header[field] {
		if strings.TrimSpace(text) == "" {
			continue
		}
		list, err := mail.ParseAddressList(text)
		if err != nil {
			values = append(values, text)
			continue
		}
		for _, a := range list {
			values = append(values, a.Address)
			if a.Name != "" {
				values = append(values, a.Name)
			}
		}
	}
	return values
}

func bodyContains(msg *extract.Message, needles []string) bool {
	for _, body := range []string{msg.Text, msg.HTML} {
		lower := strings.ToLower(body)
		for _, n := range needles {
			if strings.Contains(lower, n) {
				return true
			}
		}
	}
	return false
}
