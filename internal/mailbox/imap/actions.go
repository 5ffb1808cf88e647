package imap

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
)

// actions returns the after-action and, if any, the failure action.
func actions(after mailbox.After) []mailbox.After {
	out := []mailbox.After{after}
	if after.Failure != nil && after.Failure.Action != config.AfterNone {
		out = append(out, *after.Failure)
	}
	return out
}

// writes reports whether any of the actions changes the folder, which
// then has to be opened read-write.
func writes(after mailbox.After) bool {
	for _, a := range actions(after) {
		if a.Action != config.AfterNone {
			return true
		}
	}
	return false
}

// canDo checks, before the folder is opened, that the server can carry
// out a; failure says a is the action for failed messages, for messages
// that name the key to fix. Deleting without UIDPLUS falls back to moving
// to the Trash folder, which it looks up here.
func (s *Session) canDo(a mailbox.After, failure bool) error {
	caps := s.client.Caps()
	switch a.Action {
	case config.AfterMove:
		if !caps.Has(imap.CapMove) && !caps.Has(imap.CapUIDPlus) {
			return errors.New(`the server supports neither MOVE nor UIDPLUS, so after = "move" could only be done by expunging every deleted message in the folder, other clients' too; use after = "seen" or "flag"`)
		}
		if _, err := s.client.Status(a.MoveTo, &imap.StatusOptions{NumMessages: true}).Wait(); err != nil {
			key := "move_to"
			if failure {
				key = "failure_move_to"
			}
			return fmt.Errorf("%s folder %q: %w", key, a.MoveTo, err)
		}
	case config.AfterDelete:
		if caps.Has(imap.CapUIDPlus) || caps.Has(imap.CapIMAP4rev2) {
			return nil
		}
		if !caps.Has(imap.CapMove) {
			return errors.New(`the server supports neither UIDPLUS nor MOVE, so after = "delete" could only be done by expunging every deleted message in the folder, other clients' too; use after = "seen" or "flag"`)
		}
		trash, err := s.findTrash()
		if err != nil {
			return err
		}
		s.trash = trash
	}
	return nil
}

// trashNames are the Trash folders of common servers, for those that do
// not mark theirs with the \Trash special-use attribute.
var trashNames = []string{"Trash", "Deleted Items", "Deleted Messages", "INBOX.Trash"}

// findTrash returns the folder deleted messages are moved to on a server
// without UIDPLUS: the one marked \Trash, else one of the usual names.
func (s *Session) findTrash() (string, error) {
	var opts *imap.ListOptions
	if s.client.Caps().Has(imap.CapSpecialUse) {
		opts = &imap.ListOptions{ReturnSpecialUse: true}
	}
	list, err := s.client.List("", "*", opts).Collect()
	if err != nil {
		return "", fmt.Errorf("list folders to find the Trash: %w", err)
	}
	for _, mb := range list {
		if slices.Contains(mb.Attrs, imap.MailboxAttrTrash) {
			return mb.Mailbox, nil
		}
	}
	for _, name := range trashNames {
		for _, mb := range list {
			if strings.EqualFold(mb.Mailbox, name) {
				return mb.Mailbox, nil
			}
		}
	}
	return "", errors.New(`the server lacks UIDPLUS and has no Trash folder to move deleted messages to, so after = "delete" could only be done by expunging every deleted message in the folder, other clients' too; use after = "move" or "seen"`)
}

// checkKeywords checks, once the folder is open, that it accepts the
// keywords the actions set. Exchange Online, for one, accepts none.
func checkKeywords(after mailbox.After, data *imap.SelectData) error {
	for _, a := range actions(after) {
		if a.Action != config.AfterKeyword {
			continue
		}
		if !slices.Contains(data.PermanentFlags, imap.FlagWildcard) && !slices.ContainsFunc(data.PermanentFlags, func(f imap.Flag) bool {
			return strings.EqualFold(string(f), a.Keyword)
		}) {
			return fmt.Errorf("the folder does not keep custom keywords such as %q (its permanent flags: %v); use after = \"flag\" or \"move\"", a.Keyword, data.PermanentFlags)
		}
	}
	return nil
}
