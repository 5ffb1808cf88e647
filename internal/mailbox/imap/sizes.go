package imap

import (
	"cmp"
	"context"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtask/internal/mailbox"
)

// sized sets the size of each of msgs, ascending by UID, as the server
// announces it (RFC822.SIZE), with one UID FETCH: a message larger than a
// run may take is then known before it is asked for, as POP3's LIST tells.
// A message the server gives no size keeps 0; its literal's size is
// checked when it arrives.
func (s *Session) sized(ctx context.Context, msgs []mailbox.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	defer s.guard(ctx)()
	var set imap.UIDSet
	for _, m := range msgs {
		set.AddNum(imap.UID(m.UID))
	}
	cmd := s.client.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true})
	for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
		var (
			uid  uint32
			size int64
		)
		for item := fm.Next(); item != nil; item = fm.Next() {
			switch item := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = uint32(item.UID)
			case imapclient.FetchItemDataRFC822Size:
				size = item.Size
			}
		}
		if i, ok := slices.BinarySearchFunc(msgs, uid, func(m mailbox.Message, uid uint32) int { return cmp.Compare(m.UID, uid) }); ok && size > 0 {
			msgs[i].Size = size
		}
	}
	if err := cmd.Close(); err != nil {
		return s.fail(mailbox.Error{Step: mailbox.StepList, Err: err, Transient: unparseable(err)})
	}
	return nil
}
