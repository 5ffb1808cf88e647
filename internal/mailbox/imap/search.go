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
// of new UIDs. New UIDs that q leaves out are in Found.Done. A message
// that arrives between the two searches is not in New's answer and waits
// for the next run.
func (s *Session) NewMatching(ctx context.Context, taken mailbox.Taken, q mailbox.Query) (mailbox.Found, error) {
	found, err := s.listNew(ctx, taken)
	if err != nil {
		return found, err
	}
	if found, err = s.matching(ctx, found, q); err != nil {
		return found, err
	}
	return found, s.sized(ctx, found.New)
}

// matching leaves out of found.New, as Done, what the server finds q
// does not select.
func (s *Session) matching(ctx context.Context, found mailbox.Found, q mailbox.Query) (mailbox.Found, error) {
	msgs := found.New
	if len(msgs) == 0 || q.IsZero() {
		return found, nil
	}
	defer s.guard(ctx)()
	criteria := searchCriteria(q)
	criteria.UID = []imap.UIDSet{{imap.UIDRange{Start: imap.UID(msgs[0].UID), Stop: imap.UID(msgs[len(msgs)-1].UID)}}}
	data, err := s.client.UIDSearch(criteria, nil).Wait()
	if err != nil {
		return mailbox.Found{}, &mailbox.Error{Step: mailbox.StepList, Addr: s.addr, Err: fmt.Errorf("search for the messages [task.match] selects: %w", err)}
	}
	matching, err := serverUIDs(data)
	if err != nil {
		return mailbox.Found{}, &mailbox.Error{Step: mailbox.StepList, Addr: s.addr, Err: fmt.Errorf("search for the messages [task.match] selects: %w", err)}
	}
	found.New = nil
	for _, m := range msgs {
		if matching.Contains(imap.UID(m.UID)) {
			found.New = append(found.New, m)
		} else {
			found.Done = append(found.Done, mailbox.UIDRange{First: m.UID, Last: m.UID})
		}
	}
	return found, nil
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
		c.Or = append(c.Or, anyOf(term.Field, append(slices.Clip(term.AnyOf), encodedWord)).Or...)
	}
	return c
}

func anyOf(field string, values []string) *imap.SearchCriteria {
	one := imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: field, Value: values[0]}}}
	if len(values) == 1 {
		return &one
	}
	return &imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{one, *anyOf(field, values[1:])}}}
}
