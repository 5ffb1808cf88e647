package imap

import (
	"context"
	"slices"

	"mailtask/internal/mailbox"
)

// Folders lists every folder the account can see, for `mailtask check`.
func (s *Session) Folders(ctx context.Context) ([]string, error) {
	defer s.guard(ctx)()
	list, err := s.client.List("", "*", nil).Collect()
	if err != nil {
		return nil, &mailbox.Error{Step: mailbox.StepList, Addr: s.addr, Err: err}
	}
	names := make([]string, 0, len(list))
	for _, l := range list {
		names = append(names, l.Mailbox)
	}
	slices.Sort(names)
	return names, nil
}
