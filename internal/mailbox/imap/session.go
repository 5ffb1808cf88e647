package imap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
)

// Session is an authenticated IMAP connection.
type Session struct {
	client  *imapclient.Client
	conn    *mailbox.IdleConn
	addr    string
	timeout time.Duration
	late    lateFetches
	mail    *newMail // for Watch and Idle (idle.go)
	// answer carries every write of the client, to send its empty SASL
	// responses the way RFC 3501 wants (signin.go).
	answer *saslConn
	// filter reads every byte the server sends (codes.go).
	filter *codeFilter
	// trash receives deleted messages on a server with MOVE but without
	// UIDPLUS; "" when UID EXPUNGE is used.
	trash string
	// uidNext and exists are what SELECT reported, to check the UIDs the
	// server lists against (uids.go); uidNext is 0 if it did not say.
	uidNext, exists uint32
	maxSize         int64 // of a message, see LimitMessageSize
	log             *slog.Logger
}

var _ mailbox.Session = (*Session)(nil)

// Dial connects to the account's server, sets up TLS as configured and
// signs in with cred (signin.go).
func Dial(ctx context.Context, a *config.Account, cred auth.Credential) (*Session, error) {
	return DialCached(ctx, a, cred, nil)
}

// DialCached is Dial with the TLS settings and sessions of tlsc, which a
// process that connects again and again keeps (nil: none).
func DialCached(ctx context.Context, a *config.Account, cred auth.Credential, tlsc *mailbox.TLSCache) (*Session, error) {
	addr := net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
	s := &Session{addr: addr, timeout: a.Timeout.Std(), mail: newNewMail(), maxSize: mailbox.DefaultMaxMessageSize, log: slog.New(slog.DiscardHandler)}
	tlsConfig, err := tlsc.Config(a)
	if err != nil {
		return nil, err
	}
	dialer := net.Dialer{Timeout: s.timeout}
	raw, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &mailbox.Error{Step: mailbox.StepConnect, Addr: addr, Err: err, Transient: true}
	}
	if a.TLS != config.TLSImplicit {
		// A TLS port would leave a plain-text client waiting its whole
		// timeout for a greeting.
		plain, err := mailbox.PlainGreeting(ctx, raw, addr, min(mailbox.GreetingQuiet, s.timeout))
		if err != nil {
			raw.Close()
			return nil, &mailbox.Error{Step: mailbox.StepConnect, Addr: addr, Err: fmt.Errorf("no IMAP greeting: %w", err), Transient: !errors.Is(err, mailbox.ErrTLSPort)}
		}
		raw = plain
	}
	s.conn = mailbox.NewIdleConn(raw)
	defer s.guard(ctx)()

	opts := &imapclient.Options{
		TLSConfig:             tlsConfig,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{Fetch: s.late.handle, Mailbox: s.mail.mailbox, Expunge: s.mail.expunge},
	}
	var conn net.Conn = s.conn
	switch a.TLS {
	case config.TLSImplicit:
		tc := tls.Client(s.conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, &mailbox.Error{Step: mailbox.StepTLS, Addr: addr, Err: err}
		}
		conn = tc
	case config.TLSStartTLS:
		tc, err := startTLS(ctx, s.conn, tlsConfig)
		if err != nil {
			raw.Close()
			return nil, &mailbox.Error{Step: mailbox.StepTLS, Addr: addr, Err: fmt.Errorf("STARTTLS: %w", err)}
		}
		conn = tc
	}
	s.filter = newCodeFilter(conn)
	s.answer = &saslConn{Conn: s.filter}
	s.client = imapclient.New(s.answer, opts)
	if err := s.client.WaitGreeting(); err != nil {
		s.client.Close()
		return nil, s.fail(mailbox.Error{Step: mailbox.StepConnect, Err: fmt.Errorf("no IMAP greeting: %w", err)})
	}
	if err := s.signIn(ctx, cred); err != nil {
		s.client.Close()
		return nil, err
	}
	return s, nil
}

// fail is the *mailbox.Error of e's step at the session's server: every
// failure of the session is built here, so that each carries the reason
// the server gave for ending the session, if it ended it (endedBy).
func (s *Session) fail(e mailbox.Error) *mailbox.Error {
	e.Addr = s.addr
	e.Err = s.endedBy(e.Err)
	return &e
}

// endedBy adds to err, the failure of a command on a connection that
// ended, the reason the server gave in a BYE before it closed the
// connection, if it gave one. go-imap reads such a BYE and drops it,
// failing every command pending with a bare end of stream, or with
// "in response: ... connection reset by peer" when the connection ends
// in a reset: Exchange's "* BYE Session invalidated - AccessTokenExpired"
// (its token expired mid-session), Dovecot's "* BYE Disconnected for
// inactivity." or "* BYE Server shutting down.", Gmail's "* BYE
// [OVERQUOTA] ..." would all read as the connection's end, and say
// nothing of what to do. A reply of the server's own to the command (a
// tagged NO or BAD, *imap.Error) says why it failed already.
func (s *Session) endedBy(err error) error {
	if s.filter == nil {
		return err
	}
	bye := s.filter.bye.Load()
	if _, replied := errors.AsType[*imap.Error](err); bye == nil || replied {
		return err
	}
	return fmt.Errorf("%w (the server ended the session: %s)", err, *bye)
}

// caps is the server's capabilities. go-imap's Caps asks for them after a
// sign-in and returns none when CAPABILITY fails: a connection the server
// ended with a BYE would then read as a server without MOVE or UIDPLUS,
// which no retry cures (canDo). An empty answer is asked again, for the
// error.
func (s *Session) caps() (imap.CapSet, error) {
	if caps := s.client.Caps(); len(caps) > 0 {
		return caps, nil
	}
	caps, err := s.client.Capability().Wait()
	if err != nil {
		return nil, fmt.Errorf("CAPABILITY: %w", err)
	}
	return caps, nil
}

// guard bounds the call in progress by the session timeout and ctx: the
// connection is armed until the returned function is called, and closed if
// ctx ends first so that nothing blocks past a cancellation.
func (s *Session) guard(ctx context.Context) (release func()) {
	return s.conn.Guard(ctx, s.timeout)
}

// Select opens folder; EXAMINE when nothing will be changed. It checks up
// front that the server can carry out the after-action, so that a task
// never takes messages it then cannot move or delete.
func (s *Session) Select(ctx context.Context, folder string, after mailbox.After) (uint32, error) {
	defer s.guard(ctx)()
	for i, a := range actions(after) {
		if err := s.canDo(a, i > 0); err != nil {
			return 0, s.fail(mailbox.Error{Step: mailbox.StepSelect, Err: err})
		}
	}
	if err := s.checkRights(folder, after); err != nil {
		return 0, s.fail(mailbox.Error{Step: mailbox.StepSelect, Err: err})
	}
	data, err := s.client.Select(folder, &imap.SelectOptions{ReadOnly: !writes(after)}).Wait()
	if err != nil {
		return 0, s.fail(mailbox.Error{Step: mailbox.StepSelect, Err: fmt.Errorf("folder %q: %w", folder, err)})
	}
	if err := checkKeywords(after, data); err != nil {
		return 0, s.fail(mailbox.Error{Step: mailbox.StepSelect, Err: fmt.Errorf("folder %q: %w", folder, err)})
	}
	s.uidNext, s.exists = uint32(data.UIDNext), data.NumMessages
	return data.UIDValidity, nil
}

// New searches for UIDs from the first one not taken. UIDs below the
// highest one found that the server did not return can never appear again
// (UIDs are not reused within a UIDVALIDITY), so they are in Found.Done: the
// record of what is taken stays a few ranges and the next search starts
// higher.
func (s *Session) New(ctx context.Context, taken mailbox.Taken) (mailbox.Found, error) {
	found, err := s.listNew(ctx, taken)
	if err != nil {
		return found, err
	}
	return found, s.sized(ctx, found.New)
}

// listNew is New without the sizes.
func (s *Session) listNew(ctx context.Context, taken mailbox.Taken) (mailbox.Found, error) {
	defer s.guard(ctx)()
	first := taken.FirstUID()
	set, err := s.uidsFrom(first)
	if err != nil {
		return mailbox.Found{}, s.fail(mailbox.Error{Step: mailbox.StepList, Err: err})
	}
	var found mailbox.Found
	next := first
	// Not the highest UID below first, which the server sends even so.
	for _, u := range s.listed(set, first) {
		if u > next {
			found.Done = append(found.Done, mailbox.UIDRange{First: next, Last: u - 1})
		}
		next = u + 1
		if !taken.HasUID(u) {
			found.New = append(found.New, mailbox.Message{UID: u})
		}
	}
	return found, nil
}

// uidsFrom returns the UIDs of the folder's messages from first on (and
// perhaps the highest one below it), with UID SEARCH UID first:*. RFC 3501
// has that range always include the highest UID, so an empty answer while
// the folder holds messages, or from 1 on fewer UIDs than it holds, is a
// server bug: GNU Mailutils' imap4d (3.15) answers an empty SEARCH to
// every "UID n:*". The UIDs are then listed with UID FETCH first:* (UID)
// instead, which it answers right.
func (s *Session) uidsFrom(first uint32) (imap.UIDSet, error) {
	criteria := &imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: imap.UID(first), Stop: 0}}}}
	data, err := s.client.UIDSearch(criteria, nil).Wait()
	if err != nil {
		return nil, err
	}
	set, err := serverUIDs(data)
	if err != nil {
		return nil, err
	}
	exists := uint32(0)
	if mb := s.client.Mailbox(); mb != nil {
		exists = mb.NumMessages
	}
	found := count(set, uidRange{1, math.MaxUint32})
	if found == 0 && exists > 0 || first == 1 && found < uint64(exists) {
		if set, err = s.fetchUIDs(first); err != nil {
			return nil, fmt.Errorf("the server's UID SEARCH found %d of the folder's %d messages; listing them with UID FETCH instead: %w", found, exists, err)
		}
	}
	return set, nil
}

// fetchUIDs lists the UIDs from first on with UID FETCH first:* (UID),
// keeping no more than mailbox.MaxListing of them.
func (s *Session) fetchUIDs(first uint32) (imap.UIDSet, error) {
	cmd := s.client.Fetch(imap.UIDSet{imap.UIDRange{Start: imap.UID(first), Stop: 0}}, &imap.FetchOptions{UID: true})
	var set imap.UIDSet
	for n := 0; ; n++ {
		fm := cmd.Next()
		if fm == nil {
			break
		}
		for item := fm.Next(); item != nil; item = fm.Next() {
			if uid, ok := item.(imapclient.FetchItemDataUID); ok && uid.UID != 0 && n < mailbox.MaxListing {
				set.AddNum(uid.UID)
			}
		}
	}
	return set, cmd.Close()
}

// Fetch streams msgs with one UID FETCH (UID BODY.PEEK[]).
func (s *Session) Fetch(ctx context.Context, msgs []mailbox.Message, deliver func(mailbox.Message, io.Reader) error) error {
	return s.fetch(ctx, msgs, &imap.FetchItemBodySection{Peek: true}, func(m mailbox.Message, r io.Reader, size int64) error {
		m.Size = size
		return deliver(m, r)
	})
}

// FetchHeaders fetches each message's header, up to one byte more than
// mailbox.MaxHeader of it: BODY.PEEK[HEADER]<0.1048577>.
func (s *Session) FetchHeaders(ctx context.Context, msgs []mailbox.Message, deliver func(mailbox.Message, io.Reader) error) error {
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true, Partial: &imap.SectionPartial{Size: mailbox.MaxHeader + 1}}
	return s.fetch(ctx, msgs, section, func(m mailbox.Message, r io.Reader, _ int64) error {
		return deliver(m, r)
	})
}

// fetch fetches section of each of msgs and hands it to deliver with its
// size, checking that every one arrived.
func (s *Session) fetch(ctx context.Context, msgs []mailbox.Message, section *imap.FetchItemBodySection, deliver func(mailbox.Message, io.Reader, int64) error) error {
	defer s.guard(ctx)()
	wanted := make(map[uint32]mailbox.Message, len(msgs))
	var set imap.UIDSet
	for _, m := range msgs {
		wanted[m.UID] = m
		set.AddNum(imap.UID(m.UID))
	}
	limit := s.literalLimit(section)
	s.late.reset(len(msgs), limit, func() { s.conn.Close() })
	cmd := s.client.Fetch(set, &imap.FetchOptions{
		UID:         true,
		BodySection: []*imap.FetchItemBodySection{section},
	})
	got := make(map[uint32]bool, len(msgs))
	for fm := cmd.Next(); fm != nil; fm = cmd.Next() {
		var uid uint32
		for item := fm.Next(); item != nil; item = fm.Next() {
			switch item := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = uint32(item.UID)
			case imapclient.FetchItemDataBodySection:
				m, ok := wanted[uid]
				if !ok || got[uid] || item.Literal == nil {
					continue
				}
				if err := s.deliver(cmd, m, item.Literal, limit, deliver); err != nil {
					return err
				}
				got[uid] = true
			}
		}
	}
	err := cmd.Close()
	late, oversize := s.late.wait()
	if oversize > 0 {
		return s.fail(mailbox.Error{Step: mailbox.StepFetch, Err: fmt.Errorf("the server sent a message of %d bytes, more than the %d a message may have (max_message_size), outside the messages asked for or without its UID first; the connection was closed rather than read it", oversize, limit)})
	}
	if err != nil {
		return s.fail(mailbox.Error{Step: mailbox.StepFetch, Err: err, Transient: unparseable(err)})
	}
	if err := s.fetchLate(late, wanted, got, section, deliver); err != nil {
		return err
	}
	var missing []mailbox.Message
	for _, m := range msgs {
		if !got[m.UID] {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		return s.fail(mailbox.Error{Step: mailbox.StepFetch, Err: &mailbox.NotDeliveredError{Msgs: missing}, Transient: true})
	}
	return nil
}

// Apply carries out the after-action on msgs. A refusal by the server is
// a *mailbox.RefusedError naming the messages it concerns.
func (s *Session) Apply(ctx context.Context, after mailbox.After, msgs []mailbox.Message) error {
	if after.Action == config.AfterNone || len(msgs) == 0 {
		return nil
	}
	defer s.guard(ctx)()
	var set imap.UIDSet
	for _, m := range msgs {
		set.AddNum(imap.UID(m.UID))
	}
	var err error
	switch after.Action {
	case config.AfterSeen:
		err = s.store(set, imap.FlagSeen)
	case config.AfterFlag:
		err = s.store(set, imap.FlagFlagged)
	case config.AfterKeyword:
		err = s.store(set, imap.Flag(after.Keyword))
	case config.AfterMove:
		return s.move(after, msgs, set, after.MoveTo)
	case config.AfterDelete:
		if s.trash != "" {
			// Select found MOVE but no UIDPLUS: a UID EXPUNGE is not
			// available and a plain EXPUNGE would hit other clients'
			// deleted messages.
			return s.move(after, msgs, set, s.trash)
		}
		err = s.remove(set)
	default:
		return s.fail(mailbox.Error{Step: mailbox.StepAfter, Err: fmt.Errorf("unknown after-action %q", after.Action)})
	}
	return s.afterError(after, msgs, err, false)
}

// store adds flag to the messages of set.
func (s *Session) store(set imap.UIDSet, flag imap.Flag) error {
	return s.client.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{flag}}, nil).Close()
}

// remove flags the messages of set \Deleted and expunges exactly them.
func (s *Session) remove(set imap.UIDSet) error {
	if err := s.store(set, imap.FlagDeleted); err != nil {
		return err
	}
	return s.client.UIDExpunge(set).Close()
}

// afterError turns err, from the after-action on msgs, into what Apply
// returns: a refusal by the server is a *mailbox.RefusedError, anything
// else leaves unknown what the server did.
func (s *Session) afterError(after mailbox.After, msgs []mailbox.Message, err error, copied bool) error {
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if !errors.As(err, &ie) {
		return s.fail(mailbox.Error{Step: mailbox.StepAfter, Err: fmt.Errorf("after = %q: %w", after.Action, err)})
	}
	return &mailbox.RefusedError{Action: after.Action, Msgs: msgs, Copied: copied, Err: s.fail(mailbox.Error{Step: mailbox.StepAfter, Err: err})}
}

// Logout sends LOGOUT and closes the connection.
func (s *Session) Logout(ctx context.Context) error {
	release := s.guard(ctx)
	err := s.client.Logout().Wait()
	release()
	s.client.Close()
	if err != nil {
		return s.fail(mailbox.Error{Step: mailbox.StepLogout, Err: err})
	}
	return nil
}

// Close drops the connection.
func (s *Session) Close() error { return s.client.Close() }
