package imap

import (
	"fmt"
	"io"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtask/internal/mailbox"
)

// lateFetches notes the FETCH responses go-imap could not match to our
// UID FETCH because the server sent the UID after the message literal
// (Exchange does): the library hands those to the unilateral-data handler,
// and without this the message would be silently skipped. It also gets
// the FETCH responses nobody asked for.
//
// It reads no literal: the library discards what the handler does not
// read, so a server's unasked-for bodies cost no memory. Whose message a
// late literal was is known only after it, so once the UID FETCH is
// complete Fetch asks for each late message again, by its message number,
// which go-imap matches before any literal (fetchLate). A literal larger
// than a message may be closes the connection rather than be read.
type lateFetches struct {
	mu       sync.Mutex
	done     sync.Cond
	inflight int
	found    []lateFetch
	keep     int   // how many to note at most: as many as were asked for
	maxSize  int64 // of a literal; above it, stop is called
	oversize int64 // the size of the literal that made the handler stop
	stop     func()
}

// lateFetch is a FETCH response whose UID followed its literal.
type lateFetch struct {
	seq, uid uint32
}

// reset starts noting late responses for a fetch of keep messages of up
// to maxSize bytes; stop closes the connection.
func (l *lateFetches) reset(keep int, maxSize int64, stop func()) {
	l.mu.Lock()
	l.found, l.keep, l.maxSize, l.oversize, l.stop = nil, keep, maxSize, 0, stop
	l.mu.Unlock()
}

// handle is the imapclient unilateral Fetch handler. The library runs it in
// its own goroutine but waits for a literal to be consumed before reading
// on, so by the time the FETCH command completes every handler that had a
// literal has registered itself in inflight.
func (l *lateFetches) handle(msg *imapclient.FetchMessageData) {
	l.mu.Lock()
	if l.done.L == nil {
		l.done.L = &l.mu
	}
	l.inflight++
	maxSize := l.maxSize
	l.mu.Unlock()

	var uid uint32
	var literalFirst bool
	var oversize int64
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch item := item.(type) {
		case imapclient.FetchItemDataUID:
			uid = uint32(item.UID)
		case imapclient.FetchItemDataBodySection, imapclient.FetchItemDataBinarySection:
			lit := literalOf(item)
			if lit == nil {
				continue
			}
			if size := lit.Size(); size > maxSize {
				oversize = size
				l.stopOnce()
			}
			literalFirst = literalFirst || uid == 0
		}
	}

	l.mu.Lock()
	l.inflight--
	if oversize > 0 {
		l.oversize = oversize
	}
	if literalFirst && uid != 0 && msg.SeqNum != 0 && len(l.found) < l.keep {
		l.found = append(l.found, lateFetch{seq: msg.SeqNum, uid: uid})
	}
	l.done.Broadcast()
	l.mu.Unlock()
}

func (l *lateFetches) stopOnce() {
	l.mu.Lock()
	stop := l.stop
	l.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// wait returns the late responses, and the size of a literal that was too
// large, once no handler is still reading one.
func (l *lateFetches) wait() (found []lateFetch, oversize int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done.L == nil {
		l.done.L = &l.mu
	}
	for l.inflight > 0 {
		l.done.Wait()
	}
	found, oversize = l.found, l.oversize
	l.found, l.oversize = nil, 0
	return found, oversize
}

// literalOf returns the literal of a section item, nil if it has none.
func literalOf(item imapclient.FetchItemData) imap.LiteralReader {
	switch item := item.(type) {
	case imapclient.FetchItemDataBodySection:
		return item.Literal
	case imapclient.FetchItemDataBinarySection:
		return item.Literal
	}
	return nil
}

// fetchLate asks again, one at a time and by message number, for the
// wanted messages whose FETCH response came with the UID after the
// literal (late): go-imap matches a response to a FETCH by message number
// before any literal, so the message streams to deliver like any other.
// The UID that follows is checked: should the number name another
// message by now, Fetch fails, and the caller discards what it delivered.
// Such a message crosses the wire twice, which only a server that ignores
// BODY.PEEK makes happen.
func (s *Session) fetchLate(late []lateFetch, wanted map[uint32]mailbox.Message, got map[uint32]bool, section *imap.FetchItemBodySection, deliver func(mailbox.Message, io.Reader, int64) error) error {
	for _, lf := range late {
		m, ok := wanted[lf.uid]
		if !ok || got[lf.uid] {
			continue
		}
		uid, delivered, err := s.fetchNumber(lf.seq, m, section, deliver)
		if err != nil {
			return err
		}
		if delivered && uid != m.UID {
			return s.fail(mailbox.Error{Step: mailbox.StepFetch, Err: fmt.Errorf("message number %d was UID %d and then UID %d; nothing was lost, the next run asks again", lf.seq, m.UID, uid), Transient: true})
		}
		got[m.UID] = delivered
	}
	return nil
}

// fetchNumber fetches section of message number seq, which should be m,
// delivering it as m. It returns the UID the server gave it.
func (s *Session) fetchNumber(seq uint32, m mailbox.Message, section *imap.FetchItemBodySection, deliver func(mailbox.Message, io.Reader, int64) error) (uid uint32, delivered bool, err error) {
	cmd := s.client.Fetch(imap.SeqSetNum(seq), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
	for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
		for item := fm.Next(); item != nil; item = fm.Next() {
			switch item := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = uint32(item.UID)
			case imapclient.FetchItemDataBodySection:
				if delivered || item.Literal == nil || uid != 0 && uid != m.UID {
					continue
				}
				if err := s.deliver(cmd, m, item.Literal, s.literalLimit(section), deliver); err != nil {
					return 0, false, err
				}
				delivered = true
			}
		}
	}
	if err := cmd.Close(); err != nil {
		return 0, false, s.fail(mailbox.Error{Step: mailbox.StepFetch, Err: err, Transient: unparseable(err)})
	}
	return uid, delivered, nil
}
