package imap

import (
	"io"
	"sync"

	"github.com/emersion/go-imap/v2/imapclient"
)

// lateFetches catches FETCH responses that go-imap could not match to our
// UID FETCH because the server sent UID after the message literal
// (Exchange does). The library hands those to the unilateral-data handler;
// without this they would be discarded and the message silently skipped.
//
// The late path buffers the message in memory: it is a fallback, the
// normal path streams.
type lateFetches struct {
	mu       sync.Mutex
	done     sync.Cond
	inflight int
	results  []lateFetch
}

type lateFetch struct {
	uid  uint32
	body []byte
}

func (l *lateFetches) reset() {
	l.mu.Lock()
	l.results = nil
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
	l.mu.Unlock()

	var lf lateFetch
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch item := item.(type) {
		case imapclient.FetchItemDataUID:
			lf.uid = uint32(item.UID)
		case imapclient.FetchItemDataBodySection:
			if item.Literal != nil {
				lf.body, _ = io.ReadAll(item.Literal)
			}
		}
	}

	l.mu.Lock()
	l.inflight--
	if lf.uid != 0 && lf.body != nil {
		l.results = append(l.results, lf)
	}
	l.done.Broadcast()
	l.mu.Unlock()
}

// wait returns the late messages once no handler is still reading one.
func (l *lateFetches) wait() []lateFetch {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done.L == nil {
		l.done.L = &l.mu
	}
	for l.inflight > 0 {
		l.done.Wait()
	}
	out := l.results
	l.results = nil
	return out
}
