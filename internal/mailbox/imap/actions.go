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
	caps, err := s.caps()
	if err != nil {
		return err
	}
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
	list, err := s.list(opts)
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

// move moves msgs (whose UIDs set holds) to folder. With MOVE, or without
// UIDPLUS (where Select allowed it only with MOVE), that is UID MOVE. With
// UIDPLUS but no MOVE (Courier), it is UID COPY alone, and only once the
// server has confirmed the copy UID STORE \Deleted and UID EXPUNGE of the
// messages it copied: go-imap's Move would send the three at once, and
// expunge the messages even when the server refused to copy them.
func (s *Session) move(after mailbox.After, msgs []mailbox.Message, set imap.UIDSet, folder string) error {
	caps := s.client.Caps()
	if caps.Has(imap.CapMove) || !caps.Has(imap.CapUIDPlus) {
		_, err := s.client.Move(set, folder).Wait()
		return s.afterError(after, msgs, err, false)
	}
	data, err := s.client.Copy(set, folder).Wait()
	if err != nil {
		return s.afterError(after, msgs, err, false)
	}
	copied, copiedMsgs := set, msgs
	// COPYUID names the messages copied; the others no longer exist, and
	// need nothing more. Only messages asked for are removed, whatever
	// else it names.
	if len(data.SourceUIDs) > 0 && checkStatic(data.SourceUIDs) == nil {
		copied, copiedMsgs = nil, nil
		for _, m := range msgs {
			if data.SourceUIDs.Contains(imap.UID(m.UID)) {
				copied.AddNum(imap.UID(m.UID))
				copiedMsgs = append(copiedMsgs, m)
			}
		}
		if len(copiedMsgs) == 0 {
			return nil
		}
	}
	return s.afterError(after, copiedMsgs, s.remove(copied), true)
}

// rightNames say what each ACL right (RFC 4314) that the actions need
// allows.
var rightNames = map[imap.Right]string{
	'i': "insert: add messages",
	's': "keep seen: set \\Seen",
	'w': "write: set flags and keywords",
	't': "delete-message: set \\Deleted",
	'e': "expunge",
}

// neededRights returns the rights a needs on the folder it acts on, and
// on the folder it moves to.
func neededRights(a mailbox.After) (here, there string) {
	switch a.Action {
	case config.AfterSeen:
		return "s", ""
	case config.AfterFlag, config.AfterKeyword:
		return "w", ""
	case config.AfterMove:
		return "te", "i"
	case config.AfterDelete:
		return "te", ""
	}
	return "", ""
}

// checkRights asks a server that has ACL (RFC 4314) for the account's
// rights on folder and the move folders, and fails naming the first right
// an action lacks: without it every action would be refused, each message
// left due. A server that will not say (MYRIGHTS refused) is not checked.
func (s *Session) checkRights(folder string, after mailbox.After) error {
	if !s.client.Caps().Has(imap.CapACL) {
		return nil
	}
	for i, a := range actions(after) {
		here, there := neededRights(a)
		if err := s.hasRights(folder, "mailbox", here, a); err != nil {
			return err
		}
		key := "move_to"
		if i > 0 {
			key = "failure_move_to"
		}
		if err := s.hasRights(a.MoveTo, key, there, a); err != nil {
			return err
		}
	}
	return nil
}

func (s *Session) hasRights(folder, key, needed string, a mailbox.After) error {
	if needed == "" {
		return nil
	}
	data, err := s.client.MyRights(folder).Wait()
	var ie *imap.Error
	if errors.As(err, &ie) {
		return nil
	}
	if err != nil {
		return err
	}
	have := string(data.Rights)
	for _, r := range needed {
		// "d" is RFC 2086's right that covers both t and e.
		if strings.ContainsRune(have, r) || strings.ContainsRune("te", r) && strings.ContainsRune(have, 'd') {
			continue
		}
		return fmt.Errorf("%s folder %q: the account lacks the \"%c\" right (%s) that after = %q needs: its rights there are %q (MYRIGHTS); ask the server's admin to grant it", key, folder, r, rightNames[imap.Right(r)], a.Action, have)
	}
	return nil
}
