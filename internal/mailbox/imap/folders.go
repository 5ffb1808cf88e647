package imap

import (
	"context"
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/mailbox"
)

// Folders lists every folder the account can see, for `mailtask check`.
func (s *Session) Folders(ctx context.Context) ([]string, error) {
	defer s.guard(ctx)()
	list, err := s.list(nil)
	if err != nil {
		return nil, s.fail(mailbox.Error{Step: mailbox.StepList, Err: err})
	}
	names := make([]string, 0, len(list))
	for _, l := range list {
		names = append(names, l.Mailbox)
	}
	slices.Sort(names)
	return names, nil
}

// maxFolders bounds a folder listing; a server listing more is broken.
const maxFolders = 100_000

// list lists every folder, LIST "" "*", up to maxFolders of them.
func (s *Session) list(opts *imap.ListOptions) ([]*imap.ListData, error) {
	cmd := s.client.List("", "*", opts)
	var list []*imap.ListData
	for l := cmd.Next(); l != nil; l = cmd.Next() {
		if len(list) == maxFolders {
			cmd.Close()
			return nil, fmt.Errorf("the server lists more than %d folders", maxFolders)
		}
		list = append(list, l)
	}
	return list, cmd.Close()
}
