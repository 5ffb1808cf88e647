package imap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtask/internal/mailbox"
)

// IMAP IDLE (RFC 2177) on go-imap's IdleCommand, with what it gets wrong
// put right:
//
//   - After DONE it waits for the server's reply without a deadline (its
//     reader waits for the first byte of every response indefinitely), so a
//     server that never answers DONE hangs the client for good. Done waits
//     at most the account's timeout.
//   - It re-issues IDLE by itself every 28 minutes, and the new IDLE's
//     continuation is awaited without a deadline as well; if that server
//     never answers, IdleCommand.Close blocks forever. Done arms the
//     connection before it closes the command, so a stuck re-issue fails
//     within the timeout too. (Watchers re-issue well before 28 minutes.)
//   - A connection that drops while idling ends the command silently: only
//     Client.Closed tells. Closed passes it on.
//   - RECENT responses are dropped by the library; new mail is recognised
//     by EXISTS growing past what the folder held, counting EXPUNGEs.

// ErrNoIdle means the server does not offer IDLE.
var ErrNoIdle = errors.New("the server does not offer IDLE (RFC 2177)")

// Folder is what EXAMINE tells of a watched folder.
type Folder struct {
	UIDValidity uint32
	UIDNext     uint32 // 0 if the server did not say
	Messages    uint32
}

// Watch opens folder read-only (EXAMINE) to wait for new mail in it:
// NewMail signals once it holds more messages than now.
func (s *Session) Watch(ctx context.Context, folder string) (Folder, error) {
	defer s.guard(ctx)()
	data, err := s.client.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return Folder{}, s.fail(mailbox.Error{Step: mailbox.StepSelect, Err: fmt.Errorf("folder %q: %w", folder, err)})
	}
	s.mail.reset(data.NumMessages)
	return Folder{UIDValidity: data.UIDValidity, UIDNext: uint32(data.UIDNext), Messages: data.NumMessages}, nil
}

// CanIdle reports whether the server offers IDLE. A CAPABILITY that
// fails (a BYE cut it: Exchange's "* BYE Session invalidated -
// AccessTokenExpired") is an error that passes, not a server without
// IDLE, which a watcher would stop trying to idle on for good.
func (s *Session) CanIdle(ctx context.Context) (bool, error) {
	defer s.guard(ctx)()
	caps, err := s.caps()
	if err != nil {
		return false, s.fail(mailbox.Error{Step: mailbox.StepIdle, Err: err, Transient: true})
	}
	return caps.Has(imap.CapIdle) || caps.Has(imap.CapIMAP4rev2), nil
}

// NewMail receives a value when the watched folder has grown; values
// coalesce, so one receive may stand for many arrivals.
func (s *Session) NewMail() <-chan struct{} { return s.mail.signal }

// Closed is closed once the connection is gone, whoever closed it.
func (s *Session) Closed() <-chan struct{} { return s.client.Closed() }

// errDropped is a connection that went away while idling.
var errDropped = fmt.Errorf("the connection dropped while idling: %w", io.ErrUnexpectedEOF)

// Dropped is the error of a connection that went away while idling (once
// Closed is), with the reason the server gave if it ended the session:
// Dovecot's "* BYE Server shutting down.", Exchange's "* BYE Session
// invalidated - AccessTokenExpired". It passes: a watcher reconnects.
func (s *Session) Dropped() error {
	return s.fail(mailbox.Error{Step: mailbox.StepIdle, Err: errDropped, Transient: true})
}

// Idling is an IDLE command in progress; no other command can be sent
// until Done.
type Idling struct {
	s   *Session
	cmd *imapclient.IdleCommand
}

// Idle sends IDLE and returns once the server has accepted it, within the
// account's timeout. While idling the connection waits for the server
// without a deadline: silence is what IDLE looks like.
func (s *Session) Idle(ctx context.Context) (*Idling, error) {
	idles, err := s.CanIdle(ctx)
	if err != nil {
		return nil, err
	}
	if !idles {
		return nil, s.fail(mailbox.Error{Step: mailbox.StepIdle, Err: ErrNoIdle})
	}
	release := s.guard(ctx)
	cmd, err := s.client.Idle()
	release()
	if err != nil {
		return nil, s.fail(mailbox.Error{Step: mailbox.StepIdle, Err: err, Transient: true})
	}
	return &Idling{s: s, cmd: cmd}, nil
}

// Done ends IDLE (DONE) and waits for the server's reply, at most the
// account's timeout: no reply means a dead connection, which is then
// closed.
func (i *Idling) Done(ctx context.Context) error {
	release := i.s.guard(ctx)
	err := i.cmd.Close()
	if err == nil {
		err = i.cmd.Wait()
	}
	release()
	if err != nil {
		i.s.client.Close()
		return i.s.fail(mailbox.Error{Step: mailbox.StepIdle, Err: fmt.Errorf("DONE: %w", err), Transient: true})
	}
	return nil
}

// newMail follows the number of messages in the selected folder through
// the server's EXISTS and EXPUNGE responses, and signals when it grows.
// The handlers run on the client's reader and must not block.
type newMail struct {
	mu     sync.Mutex
	count  uint32
	signal chan struct{} // capacity 1: signals coalesce
}

func newNewMail() *newMail { return &newMail{signal: make(chan struct{}, 1)} }

func (n *newMail) reset(count uint32) {
	n.mu.Lock()
	n.count = count
	n.mu.Unlock()
}

func (n *newMail) mailbox(data *imapclient.UnilateralDataMailbox) {
	if data.NumMessages == nil {
		return
	}
	n.mu.Lock()
	grew := *data.NumMessages > n.count
	n.count = *data.NumMessages
	n.mu.Unlock()
	if grew {
		select {
		case n.signal <- struct{}{}:
		default: // one is pending already
		}
	}
}

func (n *newMail) expunge(uint32) {
	n.mu.Lock()
	if n.count > 0 {
		n.count--
	}
	n.mu.Unlock()
}
