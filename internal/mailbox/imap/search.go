package imap

import (
	"context"
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/mailbox"
)

var _ mailbox.Searcher = (*Session)(nil)

// NewMatching is New narrowed by q with a second UID SEARCH over the range
// of new UIDs. New UIDs that q leaves out are in Found.Done. When it
// leaves some out, a third UID SEARCH over the same range finds those
// watch selects (Found.Watched): a separate search, not an OR in the
// second, since only it tells them from the messages q selects, whose
// headers would otherwise all have to be read. A message that arrives
// between the searches is not in New's answer and waits for the next run.
func (s *Session) NewMatching(ctx context.Context, taken mailbox.Taken, q mailbox.Query, watch []mailbox.HeaderTerm) (mailbox.Found, error) {
	found, err := s.listNew(ctx, taken)
	if err != nil {
		return found, err
	}
	var left []mailbox.Message
	if found, left, err = s.matching(ctx, found, q); err != nil {
		return found, err
	}
	if found.Watched, err = s.watched(ctx, left, watch); err != nil {
		return found, err
	}
	return found, s.sized(ctx, found.New)
}

// matching leaves out of found.New, as Done, what the server finds q
// does not select; left are those messages.
func (s *Session) matching(ctx context.Context, found mailbox.Found, q mailbox.Query) (_ mailbox.Found, left []mailbox.Message, err error) {
	msgs := found.New
	if len(msgs) == 0 || q.IsZero() {
		return found, nil, nil
	}
	matching, err := s.searchRange(ctx, msgs, searchCriteria(q))
	if err != nil {
		return mailbox.Found{}, nil, s.fail(mailbox.Error{Step: mailbox.StepList, Err: fmt.Errorf("search for the messages [task.match] selects: %w", err)})
	}
	found.New = nil
	for _, m := range msgs {
		if matching.Contains(imap.UID(m.UID)) {
			found.New = append(found.New, m)
		} else {
			found.Done = append(found.Done, mailbox.UIDRange{First: m.UID, Last: m.UID})
			left = append(left, m)
		}
	}
	return found, left, nil
}

// watched is those of left, ascending by UID, that the server finds any
// of watch selects.
func (s *Session) watched(ctx context.Context, left []mailbox.Message, watch []mailbox.HeaderTerm) ([]mailbox.Message, error) {
	if len(left) == 0 || len(watch) == 0 {
		return nil, nil
	}
	var fields []imap.SearchCriteriaHeaderField
	for _, term := range watch {
		fields = append(fields, alternatives(term)...)
	}
	selected, err := s.searchRange(ctx, left, anyOf(fields))
	if err != nil {
		return nil, s.fail(mailbox.Error{Step: mailbox.StepList, Err: fmt.Errorf("search for quarantine notices among the messages [task.match] leaves out: %w", err)})
	}
	var watched []mailbox.Message
	for _, m := range left {
		if selected.Contains(imap.UID(m.UID)) {
			watched = append(watched, m)
		}
	}
	return watched, nil
}

// searchRange is the UIDs the server finds criteria selects between the
// first and the last of msgs, ascending by UID: one range, however many
// messages lie between, keeps the command short.
func (s *Session) searchRange(ctx context.Context, msgs []mailbox.Message, criteria *imap.SearchCriteria) (imap.UIDSet, error) {
	defer s.guard(ctx)()
	criteria.UID = []imap.UIDSet{{imap.UIDRange{Start: imap.UID(msgs[0].UID), Stop: imap.UID(msgs[len(msgs)-1].UID)}}}
	data, err := s.client.UIDSearch(criteria, nil).Wait()
	if err != nil {
		return nil, err
	}
	return serverUIDs(data)
}

// encodedWord begins an RFC 2047 encoded word. A server that looks for a
// search string in a field's raw text rather than its decoded text (mox)
// does not find "Invoice" in "=?UTF-8?B?SW52b2ljZSAz?=", and a message
// its search leaves out is never looked at: every header term also lets
// through a field that holds an encoded word, and the rules then judge
// that message on its decoded header. A server that decodes (Dovecot,
// Exchange) finds "=?" only where the decoded text holds it.
const encodedWord = "=?"

// searchCriteria translates q. Alternatives within a header term, and the
// encoded word, become a chain of ORs.
func searchCriteria(q mailbox.Query) *imap.SearchCriteria {
	c := &imap.SearchCriteria{SentSince: q.SentSince, Larger: q.Larger, Smaller: q.Smaller}
	if q.Unseen {
		c.NotFlag = []imap.Flag{imap.FlagSeen}
	}
	// Not SearchCriteria.And: in go-imap v2.0.0-beta.8 it resets Smaller
	// to 0 when the other side has none, dropping max_size.
	for _, term := range q.Header {
		c.Or = append(c.Or, anyOf(alternatives(term)).Or...)
	}
	return c
}

// alternatives are term's substrings, and the encoded word, as search
// keys on its field.
func alternatives(term mailbox.HeaderTerm) []imap.SearchCriteriaHeaderField {
	var fields []imap.SearchCriteriaHeaderField
	for _, value := range append(slices.Clip(term.AnyOf), encodedWord) {
		fields = append(fields, imap.SearchCriteriaHeaderField{Key: term.Field, Value: value})
	}
	return fields
}

// anyOf selects a message whose header holds any of fields: a chain of
// ORs.
func anyOf(fields []imap.SearchCriteriaHeaderField) *imap.SearchCriteria {
	one := imap.SearchCriteria{Header: fields[:1]}
	if len(fields) == 1 {
		return &one
	}
	return &imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{one, *anyOf(fields[1:])}}}
}
