package pop3

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strconv"
	"strings"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
)

// Session adapts a Client to mailbox.Session: the inbox is the only folder,
// UIDLs are the message identities, and deletion takes effect at Logout.
type Session struct {
	c    *Client
	addr string
	log  *slog.Logger
	// listing is what New (or Fetch, in a session that never ran New)
	// listed; nums finds its messages' numbers in this session by UIDL,
	// so that Apply can delete messages taken in earlier runs and Fetch
	// can take messages another session listed.
	listed  bool
	listing []UIDL
	nums    *uidlIndex
	// capsAsked: CAPA has been asked since signing in (see fetch).
	capsAsked bool
	// count is how many messages the maildrop held when first listed
	// (listing.go), once counted.
	count   int
	counted bool
	maxSize int64 // of a message, see LimitMessageSize
}

var _ mailbox.Session = (*Session)(nil)

// Open connects to the account's server and signs in with cred (USER/PASS
// or AUTH, see signIn): the account-level counterpart of Dial.
func Open(ctx context.Context, a *config.Account, cred auth.Credential, log *slog.Logger) (*Session, error) {
	return OpenCached(ctx, a, cred, log, nil)
}

// OpenCached is Open with the TLS settings and sessions of tlsc, which a
// process that connects again and again keeps (nil: none).
func OpenCached(ctx context.Context, a *config.Account, cred auth.Credential, log *slog.Logger, tlsc *mailbox.TLSCache) (*Session, error) {
	addr := net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
	tlsConfig, err := tlsc.Config(a)
	if err != nil {
		return nil, err
	}
	c, err := Dial(ctx, addr, Options{TLS: tlsConfig, Security: a.TLS, Timeout: a.Timeout.Std(), DialTimeout: a.Timeout.Std()})
	if err != nil {
		return nil, dialError(addr, err)
	}
	if err := signIn(ctx, c, cred); err != nil {
		c.Close()
		var se *ServerError
		var ce credentialError
		transient := !errors.As(err, &se) && !errors.Is(err, ErrNoPlaintext) && (!errors.As(err, &ce) || ce.transient())
		var delay *LoginDelayError
		if errors.As(err, &delay) {
			return nil, &mailbox.Error{Step: mailbox.StepLogin, Addr: addr, User: cred.Username(), Err: err, Transient: true, RetryAfter: delay.Delay}
		}
		return nil, &mailbox.Error{Step: mailbox.StepLogin, Addr: addr, User: cred.Username(), Err: err, Transient: transient}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Session{c: c, addr: addr, log: log}, nil
}

// dialError names the step that failed: a certificate problem and a
// refused connection have different fixes.
func dialError(addr string, err error) error {
	var (
		cert     *tls.CertificateVerificationError
		alert    tls.AlertError
		record   tls.RecordHeaderError
		hostname x509.HostnameError
	)
	if errors.As(err, &cert) || errors.As(err, &alert) || errors.As(err, &record) || errors.As(err, &hostname) {
		return &mailbox.Error{Step: mailbox.StepTLS, Addr: addr, Err: err}
	}
	var se *ServerError
	return &mailbox.Error{Step: mailbox.StepConnect, Addr: addr, Err: err, Transient: !errors.As(err, &se) && !errors.Is(err, mailbox.ErrTLSPort)}
}

// Select accepts only the inbox, which is all POP3 has; configuration
// validation refuses the rest, this is the last line of defence. POP3 has
// no UIDVALIDITY, so it returns 0.
func (s *Session) Select(_ context.Context, folder string, after mailbox.After) (uint32, error) {
	if !strings.EqualFold(folder, config.DefaultMailbox) {
		return 0, &mailbox.Error{Step: mailbox.StepSelect, Addr: s.addr, Err: fmt.Errorf("POP3 has only the inbox, not %q", folder)}
	}
	switch after.Action {
	case config.AfterNone, config.AfterDelete:
		return 0, nil
	default:
		return 0, &mailbox.Error{Step: mailbox.StepSelect, Addr: s.addr, Err: fmt.Errorf("after = %q needs IMAP; POP3 can only leave or delete messages", after.Action)}
	}
}

// New lists the messages whose UIDL is not taken, oldest first, handing
// taken the whole listing. Only UIDL (and LIST, when something is new)
// cross the wire.
func (s *Session) New(ctx context.Context, taken mailbox.Taken) (mailbox.Found, error) {
	listing, err := s.list(ctx)
	if err != nil {
		return mailbox.Found{}, err
	}
	ids := make([]string, len(listing))
	for i, u := range listing {
		ids[i] = u.ID
	}
	known := taken.HasUIDLs(ids)
	var msgs []mailbox.Message
	for i, u := range listing {
		if !known[i] {
			msgs = append(msgs, mailbox.Message{Num: u.Num, UIDL: u.ID})
		}
	}
	if len(msgs) == 0 {
		return mailbox.Found{}, nil
	}
	sizes, err := s.c.ListAll(ctx, s.numberBound())
	if err != nil {
		return mailbox.Found{}, s.listError(err)
	}
	for i := range msgs {
		if n := msgs[i].Num; n < len(sizes) {
			msgs[i].Size = max(sizes[n], 0)
		}
	}
	return mailbox.Found{New: msgs}, nil
}

// list lists every message's UIDL, or the key headerKeys makes for it on
// a server without UIDL, and keeps the listing for Apply and Fetch.
func (s *Session) list(ctx context.Context) ([]UIDL, error) {
	var nums *uidlIndex
	listing, err := s.c.UIDLAll(ctx, s.numberBound())
	switch {
	case errors.Is(err, ErrNoUIDL):
		s.log.Warn("the POP3 server does not support UIDL; messages are recognised by Message-ID, Date and size instead, which costs one TOP command per message and every poll", "server", s.addr)
		if listing, err = s.headerKeys(ctx, nil); err != nil {
			return nil, err
		}
		nums = newUIDLIndex(listing)
	case err != nil:
		return nil, s.listError(err)
	default:
		highest := 0
		for _, u := range listing {
			highest = max(highest, u.Num)
		}
		if err := s.counts(len(listing), highest); err != nil {
			return nil, err
		}
		if listing, nums, err = s.distinct(ctx, listing); err != nil {
			return nil, err
		}
	}
	s.listed, s.listing, s.nums = true, listing, nums
	return listing, nil
}

// numbers finds the messages of the last listing by UIDL, listing first
// in a session that has not.
func (s *Session) numbers(ctx context.Context) (*uidlIndex, error) {
	if !s.listed {
		if _, err := s.list(ctx); err != nil {
			return nil, err
		}
	}
	return s.nums, nil
}

func (s *Session) listError(err error) error {
	return &mailbox.Error{Step: mailbox.StepList, Addr: s.addr, Err: err, Transient: s.c.broken != nil}
}

// headerKeys stands in for UIDL on servers without it: each message is
// keyed by its Message-ID, Date and size, read with TOP n 0 (sent ahead
// like RETRs where the server pipelines). A message without a Message-ID
// is keyed by its header block instead (its first maxKeyedHeader bytes),
// so that two header-less messages of one size are not taken for one;
// keys that still collide are told apart by uniqueKeys. Only the messages
// whose numbers which accepts are keyed, all if which is nil.
func (s *Session) headerKeys(ctx context.Context, which func(num int) bool) ([]UIDL, error) {
	sizes, err := s.c.ListAll(ctx, s.numberBound())
	if err != nil {
		return nil, s.listError(err)
	}
	listed := 0
	for _, size := range sizes {
		if size >= 0 {
			listed++
		}
	}
	if err := s.counts(listed, len(sizes)-1); err != nil {
		return nil, err
	}
	var msgs []mailbox.Message
	for num, size := range sizes {
		if size >= 0 && (which == nil || which(num)) { // not marked deleted in this session
			msgs = append(msgs, mailbox.Message{Num: num, Size: size})
		}
	}
	keys := make([]UIDL, 0, len(msgs))
	err = s.fetch(ctx, mailbox.StepList, msgs, func(m mailbox.Message, header io.Reader) error {
		b, err := io.ReadAll(io.LimitReader(header, maxKeyedHeader))
		if err != nil {
			return err
		}
		keys = append(keys, UIDL{Num: m.Num, ID: headerKey(b, m.Size)})
		return nil
	}, headerCommand)
	uniqueKeys(keys)
	return keys, err
}

// maxKeyedHeader bounds what headerKey reads of a header.
const maxKeyedHeader = 1 << 20

func headerKey(header []byte, size int64) string {
	h := sha256.New()
	fields, _ := textproto.NewReader(bufio.NewReader(strings.NewReader(string(header)))).ReadMIMEHeader()
	if id := fields.Get("Message-Id"); id != "" {
		fmt.Fprintf(h, "%s\x00%s\x00%d", id, fields.Get("Date"), size)
	} else {
		fmt.Fprintf(h, "%s\x00%d", header, size)
	}
	return "hdr-" + hex.EncodeToString(h.Sum(nil))[:40]
}

// Fetch retrieves each message with RETR, streamed and dot-unstuffed, up
// to the size limit (limits.go).
func (s *Session) Fetch(ctx context.Context, msgs []mailbox.Message, deliver func(mailbox.Message, io.Reader) error) error {
	return s.fetchWithin(ctx, msgs, deliver)
}

// FetchHeaders retrieves each message's header with TOP n 0.
func (s *Session) FetchHeaders(ctx context.Context, msgs []mailbox.Message, deliver func(mailbox.Message, io.Reader) error) error {
	return s.fetchListed(ctx, msgs, deliver, headerCommand)
}

// fetchListed fetches msgs by their UIDLs. Message numbers belong to one
// session, and msgs may come from another one's listing (a run fetching
// over several connections), where a message deleted in between would
// shift every number after it: each is looked up again in this session's
// listing, and one missing from it fails the fetch. A message without a
// UIDL is taken by the number it carries.
func (s *Session) fetchListed(ctx context.Context, msgs []mailbox.Message, deliver func(mailbox.Message, io.Reader) error, cmd fetchCommand) error {
	here := make([]mailbox.Message, len(msgs))
	var nums *uidlIndex // listed once a message has a UIDL
	for i, m := range msgs {
		if m.UIDL != "" {
			if nums == nil {
				var err error
				if nums, err = s.numbers(ctx); err != nil {
					return err
				}
			}
			num, ok := nums.get(m.UIDL)
			if !ok {
				return &mailbox.Error{Step: mailbox.StepFetch, Addr: s.addr, Err: fmt.Errorf("%s: no longer on the server", m.Key()), Transient: true}
			}
			m.Num = num
		}
		here[i] = m
	}
	return s.fetch(ctx, mailbox.StepFetch, here, deliver, cmd)
}

// What is sent ahead (pipeline.go) keeps the server sending while the
// client reads: with 8 messages and 1 MB ahead, a run of the benchmark
// corpus over POP3S took 1.17 s where it takes 0.97 s with these. It is
// also what must be read and discarded should the caller stop early, so
// not much more.
const (
	aheadMessages = 32
	aheadBytes    = 4 << 20
)

// A fetchCommand asks for (part of) a message: its command line, how
// much of the message its reply may hold, for the bound on what is sent
// ahead, and the most a reply may hold before the server is judged to
// misbehave (nil: a message's, which fetchWithin bounds).
type fetchCommand struct {
	line  func(num int) string
	reply func(size int64) int64
	most  func(size int64) int64
}

var (
	messageCommand = fetchCommand{line: retrCommand, reply: func(size int64) int64 { return size }}
	// A header is rarely more than a few kilobytes, whatever the size of
	// the message below it, and never more than the message: a server
	// that goes on past that (with a slack for sizes LIST gives roughly)
	// sends something else, which would be read to its end.
	headerCommand = fetchCommand{
		line:  func(num int) string { return topCommand(num, 0) },
		reply: func(size int64) int64 { return min(size, 64<<10) },
		most:  func(size int64) int64 { return max(size, 0) + mailbox.MaxHeader },
	}
)

// fetch sends cmd for each of msgs and streams its reply to deliver;
// failures on the wire are reported as step's. A message the server
// refuses (-ERR, without a code that refuses the session) while fetching is
// passed over, and named once the others are delivered
// (mailbox.NotDeliveredError).
func (s *Session) fetch(ctx context.Context, step mailbox.Step, msgs []mailbox.Message, deliver func(mailbox.Message, io.Reader) error, cmd fetchCommand) error {
	fail := func(m mailbox.Message, err error, transient bool) error {
		return &mailbox.Error{Step: step, Addr: s.addr, Err: fmt.Errorf("%s: %w", describe(m), err), Transient: transient}
	}
	// Whether commands may be sent ahead is in CAPA, which signing in
	// with USER and PASS over implicit TLS never asks: it is asked here,
	// once something is to be fetched, so that a poll finding nothing new
	// pays no round trip for it.
	if !s.capsAsked && len(msgs) > 0 {
		if _, err := s.c.Capabilities(ctx); err != nil {
			return &mailbox.Error{Step: step, Addr: s.addr, Err: err, Transient: s.c.broken != nil}
		}
		s.capsAsked = true
	}
	sent, inFlight := 0, int64(0) // msgs[i:sent] are sent, their replies of inFlight bytes
	var ahead []string
	refused := &mailbox.NotDeliveredError{}
	for i, m := range msgs {
		// Refilled once half the window is read, so that commands go out
		// several to a write however small the messages.
		if s.c.Pipelining() && sent < len(msgs) && sent-i <= aheadMessages/2 {
			first := sent
			ahead = ahead[:0]
			for sent < len(msgs) && (sent == i || sent-i < aheadMessages && inFlight+cmd.reply(msgs[sent].Size) <= aheadBytes) {
				if err := checkNum(msgs[sent].Num); err != nil {
					return err
				}
				ahead = append(ahead, cmd.line(msgs[sent].Num))
				inFlight += cmd.reply(msgs[sent].Size)
				sent++
			}
			if len(ahead) > 0 {
				if err := s.c.sendAhead(ctx, ahead...); err != nil {
					return fail(msgs[first], err, s.c.broken != nil)
				}
			}
		}
		if err := checkNum(m.Num); err != nil {
			return err
		}
		body, err := s.c.stream(ctx, cmd.line(m.Num))
		if se, ok := errors.AsType[*ServerError](err); ok && se.ofMessage() && step == mailbox.StepFetch {
			// -ERR leaves the session usable: the other messages go on.
			refused.Msgs = append(refused.Msgs, m)
			if refused.Reply == nil {
				refused.Reply = fmt.Errorf("%s: %w", describe(m), err)
			}
			inFlight -= cmd.reply(m.Size)
			continue
		}
		if err != nil {
			return fail(m, err, s.c.broken != nil)
		}
		var reply io.Reader = body
		if cmd.most != nil {
			line, size := cmd.line(m.Num), m.Size
			reply = &capped{r: body, left: cmd.most(size), stop: s.c.Close, over: func() error {
				return fmt.Errorf("the server's reply to %s went on past the message's size (%d bytes by LIST) and a MiB more, which no header does; the connection was closed rather than read it to its end", line, size)
			}}
		}
		err = deliver(m, reply)
		if err == nil && cmd.most != nil {
			// What deliver left is read through the bound, not by Close,
			// which reads to the end however far that is. Past the bound
			// the connection is dropped, and a run retries that.
			if _, derr := io.Copy(io.Discard, reply); derr != nil {
				err = fail(m, derr, true)
			}
		}
		if cerr := body.Close(); err == nil && cerr != nil {
			err = fail(m, cerr, true)
		}
		inFlight -= cmd.reply(m.Size)
		if err != nil {
			return err
		}
	}
	if len(refused.Msgs) > 0 {
		return &mailbox.Error{Step: step, Addr: s.addr, Err: refused, Transient: true}
	}
	return nil
}

// describe names m in an error: by its UIDL once known, else (while
// headerKeys stands in for UIDL) by its number in this session.
func describe(m mailbox.Message) string {
	if m.UIDL == "" {
		return fmt.Sprintf("message %d", m.Num)
	}
	return m.Key()
}

// Apply marks msgs deleted. The server removes them only when Logout sends
// QUIT; a session that ends any other way deletes nothing (RFC 1939).
// Messages are found by UIDL, so msgs may come from an earlier session
// whose QUIT never happened; those no longer listed are already gone.
func (s *Session) Apply(ctx context.Context, after mailbox.After, msgs []mailbox.Message) error {
	switch after.Action {
	case config.AfterNone:
		return nil
	case config.AfterDelete:
	default:
		return &mailbox.Error{Step: mailbox.StepAfter, Addr: s.addr, Err: fmt.Errorf("after = %q needs IMAP", after.Action)}
	}
	nums, err := s.numbers(ctx)
	if err != nil {
		return err
	}
	var refused []mailbox.Message
	var firstRefusal error
	for _, m := range msgs {
		num, ok := nums.get(m.UIDL)
		if !ok {
			continue
		}
		err := s.c.Dele(ctx, num)
		var se *ServerError
		// -ERR leaves the session usable: the other messages go on. But
		// a "not now" to the session, after which the server closes the
		// connection (Dovecot's "-ERR Disconnected for inactivity."), is
		// no refusal of the deletion: it and the rest stay due.
		if errors.As(err, &se) && !mailbox.NotNowReply(se.Text) {
			refused = append(refused, m)
			if firstRefusal == nil {
				firstRefusal = err
			}
			continue
		}
		if err != nil {
			return &mailbox.Error{Step: mailbox.StepAfter, Addr: s.addr, Err: fmt.Errorf("DELE %s: %w", m.Key(), err), Transient: s.c.broken != nil}
		}
		nums.forget(m.UIDL)
	}
	if len(refused) > 0 {
		return &mailbox.RefusedError{Action: after.Action, Msgs: refused,
			Err: &mailbox.Error{Step: mailbox.StepAfter, Addr: s.addr, Err: fmt.Errorf("DELE: %w", firstRefusal)}}
	}
	return nil
}

// Logout sends QUIT, which is what makes deletions take effect.
func (s *Session) Logout(ctx context.Context) error {
	if err := s.c.Quit(ctx); err != nil {
		return &mailbox.Error{Step: mailbox.StepLogout, Addr: s.addr, Err: err, Transient: true}
	}
	return nil
}

// Close drops the connection without QUIT: nothing is deleted.
func (s *Session) Close() error { return s.c.Close() }
