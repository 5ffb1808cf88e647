package testmail

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// IMAPOptions configure an IMAPServer.
type IMAPOptions struct {
	TLS      *tls.Config // implicit TLS when set (use CA.ServerTLS); nil = plaintext
	StartTLS bool        // offer STARTTLS with TLS instead of implicit TLS; login is refused before it

	Username, Password string

	Mailboxes   []string // created in addition to INBOX (e.g. "Processed")
	UIDValidity uint32   // INBOX's initial UIDVALIDITY (default 1)

	// NoUIDPlus hides UIDPLUS and MOVE, refuses MOVE and UID EXPUNGE and
	// drops APPENDUID/COPYUID, as older servers do, so that a client's
	// fallback to plain EXPUNGE can be observed.
	NoUIDPlus bool
	// KeepMove, with NoUIDPlus, still offers MOVE (without COPYUID), as
	// some servers do.
	KeepMove bool
	// NoMove offers UIDPLUS without MOVE, as Courier does, and refuses
	// MOVE.
	NoMove bool

	// XOAUTH2, when set, offers AUTH=XOAUTH2 and AUTH=OAUTHBEARER beside
	// PLAIN (imapsasl.go) and signs in a client whose user and token it
	// accepts; a refused token gets a JSON failure challenge, then "NO
	// AUTHENTICATE failed.", as from Exchange. NoXOAUTH2 withholds
	// XOAUTH2, like servers that implement only the standard mechanism.
	XOAUTH2   func(user, token string) bool
	NoXOAUTH2 bool

	// Fault, when set, is consulted before each LOGIN, SELECT, FETCH,
	// MOVE, COPY, STORE and EXPUNGE of a client (cmd is the command's
	// name, without UID; a FETCH of no section, only sizes or flags, is
	// "FETCH SIZE"), and as "AUTHENTICATE" once a token was accepted,
	// whose refusal is then the command's tagged reply without a failure
	// challenge (Exchange's "NO User is authenticated but not
	// connected."). A non-nil error is sent as the
	// command's reply instead of running it (an *imap.Error carries NO or
	// BAD and a response code such as UNAVAILABLE); ErrDrop closes the
	// connection instead. Fault may block, to hold a client mid-run.
	Fault func(cmd string) error
	// ConnFault is Fault told which connection sent the command: conn
	// numbers the clients' connections from 1, in the order their sessions
	// began. A run opens further connections only once its own is signed
	// in, so its own is 1 and a fault keyed on conn never depends on which
	// connection's command arrives first.
	ConnFault func(conn int, cmd string) error
}

// IMAPServer is an in-process IMAP server on 127.0.0.1 with one user, built
// on go-imap's imapmemserver. It counts logins and message downloads, and
// lets a test look into a mailbox or change its UIDVALIDITY.
type IMAPServer struct {
	Addr string // host:port on 127.0.0.1

	opts  IMAPOptions
	user  *imapmemserver.User
	srv   *imapserver.Server
	ln    net.Listener
	inner *pipeListener // pre-authenticated sessions for Messages and ResetUIDValidity
	serve sync.WaitGroup

	mu sync.Mutex
	// uidValidity overrides what imapmemserver reports: it numbers mailboxes
	// from a per-user counter and offers no way to choose the value.
	uidValidity map[string]uint32
	fetched     []uint32
	logins      int
	conns       int // client sessions begun
	// permanentFlags overrides what SELECT reports, when set.
	permanentFlags []imap.Flag
}

// StoredMessage is one message as the server holds it.
type StoredMessage struct {
	UID   uint32
	Flags []imap.Flag
	Raw   []byte
}

// StartIMAP starts a server listening on 127.0.0.1:0 with an INBOX and
// opts.Mailboxes, all empty.
func StartIMAP(opts IMAPOptions) (*IMAPServer, error) {
	if opts.StartTLS && opts.TLS == nil {
		return nil, errors.New("testmail: IMAPOptions.StartTLS needs IMAPOptions.TLS")
	}
	if opts.UIDValidity == 0 {
		opts.UIDValidity = 1
	}
	s := &IMAPServer{
		opts:        opts,
		user:        imapmemserver.NewUser(opts.Username, opts.Password),
		inner:       newPipeListener(),
		uidValidity: map[string]uint32{"INBOX": opts.UIDValidity},
	}
	for _, name := range append([]string{"INBOX"}, opts.Mailboxes...) {
		if err := s.user.Create(name, nil); err != nil {
			return nil, fmt.Errorf("create test mailbox %q: %w", name, err)
		}
	}

	// IMAP4rev1 only, like Exchange Online: IMAP4rev2 would imply UIDPLUS
	// and MOVE whatever NoUIDPlus says.
	caps := imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapNamespace: {}}
	if !opts.NoUIDPlus {
		caps[imap.CapUIDPlus] = struct{}{}
	}
	if (!opts.NoUIDPlus || opts.KeepMove) && !opts.NoMove {
		caps[imap.CapMove] = struct{}{}
	}
	srvOpts := &imapserver.Options{
		NewSession:   s.newSession,
		Caps:         caps,
		Logger:       log.New(io.Discard, "", 0),
		InsecureAuth: opts.TLS == nil,
	}
	if opts.StartTLS {
		srvOpts.TLSConfig = opts.TLS
	}
	s.srv = imapserver.New(srvOpts)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start IMAP test server: %w", err)
	}
	s.Addr = ln.Addr().String()
	if opts.TLS != nil && !opts.StartTLS {
		ln = tls.NewListener(ln, opts.TLS)
	}
	s.ln = ln
	for _, l := range []net.Listener{ln, s.inner} {
		s.serve.Go(func() { s.srv.Serve(l) })
	}
	return s, nil
}

// Close stops the server and drops every connection.
func (s *IMAPServer) Close() error {
	// imapserver.Server.Close races with a Serve that has not yet
	// registered its listener (WaitGroup.Add after Wait), so the listeners
	// are closed and both Serve calls waited for before it runs.
	s.ln.Close()
	s.inner.Close()
	s.serve.Wait()
	return s.srv.Close()
}

// Append adds a message to mailbox and returns its UID. go-imap's memory
// server answers a FETCH of BODY[] with nothing when the message's header
// does not parse (binary junk, say), so a test of unparseable mail over it
// fetches an empty message; Dovecot, or a header-less message that starts
// with a blank line, keeps the bytes.
func (s *IMAPServer) Append(mailbox string, raw []byte, flags ...imap.Flag) (uint32, error) {
	data, err := s.user.Append(mailbox, bytes.NewReader(raw), &imap.AppendOptions{Flags: flags})
	if err != nil {
		return 0, fmt.Errorf("append to test mailbox %q: %w", mailbox, err)
	}
	return uint32(data.UID), nil
}

// Messages returns the current contents of mailbox in UID order. It panics
// if the mailbox does not exist or the server is closed: an empty answer
// would let an assertion such as "the message was moved away" pass
// vacuously.
func (s *IMAPServer) Messages(mailbox string) []StoredMessage {
	bufs, err := s.inspect(mailbox, &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{wholeMessage}})
	if err != nil {
		panic(fmt.Sprintf("testmail: read IMAP test mailbox %q: %v", mailbox, err))
	}
	msgs := make([]StoredMessage, 0, len(bufs))
	for _, b := range bufs {
		msgs = append(msgs, StoredMessage{UID: uint32(b.UID), Flags: b.Flags, Raw: b.FindBodySection(wholeMessage)})
	}
	return msgs
}

// ResetUIDValidity simulates a mailbox being recreated on the server: the
// same messages (flags and dates kept) under UIDVALIDITY v with UIDs
// renumbered from 1. Sessions that have the mailbox selected keep seeing
// the old one, so reconnect after calling it.
func (s *IMAPServer) ResetUIDValidity(mailbox string, v uint32) error {
	if v == 0 {
		return errors.New("testmail: UIDVALIDITY must not be 0")
	}
	status, err := s.user.Status(mailbox, &imap.StatusOptions{UIDValidity: true})
	if err != nil {
		return fmt.Errorf("reset UIDVALIDITY of test mailbox %q: %w", mailbox, err)
	}
	if s.uidValidityOf(mailbox, status.UIDValidity) == v {
		return fmt.Errorf("reset UIDVALIDITY of test mailbox %q: it is %d already", mailbox, v)
	}
	bufs, err := s.inspect(mailbox, &imap.FetchOptions{Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{wholeMessage}})
	if err != nil {
		return fmt.Errorf("reset UIDVALIDITY of test mailbox %q: %w", mailbox, err)
	}
	if err := s.user.Delete(mailbox); err != nil {
		return fmt.Errorf("reset UIDVALIDITY of test mailbox %q: %w", mailbox, err)
	}
	if err := s.user.Create(mailbox, nil); err != nil {
		return fmt.Errorf("reset UIDVALIDITY of test mailbox %q: %w", mailbox, err)
	}
	for _, b := range bufs {
		opts := &imap.AppendOptions{Flags: b.Flags, Time: b.InternalDate}
		if _, err := s.user.Append(mailbox, bytes.NewReader(b.FindBodySection(wholeMessage)), opts); err != nil {
			return fmt.Errorf("reset UIDVALIDITY of test mailbox %q: %w", mailbox, err)
		}
	}
	s.mu.Lock()
	s.uidValidity[mailbox] = v
	s.mu.Unlock()
	return nil
}

// FetchedUIDs returns every UID whose whole body (BODY[] or BODY.PEEK[])
// clients fetched, in order, once per fetch: the server's count of
// downloads.
func (s *IMAPServer) FetchedUIDs() []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint32(nil), s.fetched...)
}

// SetPermanentFlags makes SELECT report flags as the folders' permanent
// flags, e.g. without \* like Exchange Online, which keeps no custom
// keywords.
func (s *IMAPServer) SetPermanentFlags(flags []imap.Flag) {
	s.mu.Lock()
	s.permanentFlags = append([]imap.Flag{}, flags...)
	s.mu.Unlock()
}

func (s *IMAPServer) permanentFlagsOverride() []imap.Flag {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.permanentFlags
}

// Logins returns how many clients logged in successfully.
func (s *IMAPServer) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// wholeMessage is BODY.PEEK[].
var wholeMessage = &imap.FetchItemBodySection{Peek: true}

// inspect fetches every message of mailbox through a pre-authenticated
// in-memory connection: imapmemserver keeps messages private and serves
// them only through a session.
func (s *IMAPServer) inspect(mailbox string, options *imap.FetchOptions) ([]*imapclient.FetchMessageBuffer, error) {
	conn, err := s.inner.dial()
	if err != nil {
		return nil, err
	}
	c := imapclient.New(conn, nil)
	defer c.Close()
	data, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, err
	}
	if data.NumMessages == 0 {
		return nil, nil
	}
	var all imap.SeqSet
	all.AddRange(1, 0) // 1:*
	return c.Fetch(all, options).Collect()
}

func (s *IMAPServer) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	if _, ok := c.NetConn().(pipeConn); ok {
		sess := &imapSession{UserSession: imapmemserver.NewUserSession(s.user), srv: s, internal: true}
		return sess, &imapserver.GreetingData{PreAuth: true}, nil
	}
	s.mu.Lock()
	s.conns++
	n := s.conns
	s.mu.Unlock()
	return &imapSession{srv: s, conn: c.NetConn(), n: n}, nil, nil
}

func (s *IMAPServer) uidValidityOf(mailbox string, internal uint32) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.uidValidity[mailbox]; ok {
		return v
	}
	return internal
}

// renameUIDValidity keeps an override with its mailbox; a deleted mailbox
// loses it, so that one created again under the same name gets a new
// UIDVALIDITY.
func (s *IMAPServer) renameUIDValidity(oldName, newName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.uidValidity[oldName]
	delete(s.uidValidity, oldName)
	if ok && newName != "" {
		s.uidValidity[newName] = v
	}
}

func (s *IMAPServer) recordFetch(uids []uint32) {
	s.mu.Lock()
	s.fetched = append(s.fetched, uids...)
	s.mu.Unlock()
}

func (s *IMAPServer) recordLogin() {
	s.mu.Lock()
	s.logins++
	s.mu.Unlock()
}

// imapSession is imapmemserver's session with the server's bookkeeping and
// UIDVALIDITY overrides on top.
type imapSession struct {
	*imapmemserver.UserSession // nil until login

	srv      *IMAPServer
	conn     net.Conn // the client's connection, for IMAPOptions.Fault
	n        int      // its number, for IMAPOptions.ConnFault
	internal bool     // the server's own inspection, not counted
}

func (sess *imapSession) Login(username, password string) error {
	if err := sess.fault("LOGIN"); err != nil {
		return err
	}
	if err := sess.srv.user.Login(username, password); err != nil {
		return err
	}
	sess.srv.recordLogin()
	sess.UserSession = imapmemserver.NewUserSession(sess.srv.user)
	return nil
}

func (sess *imapSession) Select(mailbox string, options *imap.SelectOptions) (*imap.SelectData, error) {
	if err := sess.fault("SELECT"); err != nil {
		return nil, err
	}
	data, err := sess.UserSession.Select(mailbox, options)
	if err != nil {
		return nil, err
	}
	data.UIDValidity = sess.srv.uidValidityOf(mailbox, data.UIDValidity)
	if flags := sess.srv.permanentFlagsOverride(); flags != nil {
		data.PermanentFlags = flags
	}
	return data, nil
}

func (sess *imapSession) Status(mailbox string, options *imap.StatusOptions) (*imap.StatusData, error) {
	data, err := sess.UserSession.Status(mailbox, options)
	if err != nil {
		return nil, err
	}
	if options.UIDValidity {
		data.UIDValidity = sess.srv.uidValidityOf(mailbox, data.UIDValidity)
	}
	return data, nil
}

func (sess *imapSession) Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	data, err := sess.UserSession.Append(mailbox, r, options)
	if err != nil || sess.srv.opts.NoUIDPlus {
		return nil, err
	}
	data.UIDValidity = sess.srv.uidValidityOf(mailbox, data.UIDValidity)
	return data, nil
}

func (sess *imapSession) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	if err := sess.fault("COPY"); err != nil {
		return nil, err
	}
	data, err := sess.UserSession.Copy(numSet, dest)
	if err != nil || sess.srv.opts.NoUIDPlus {
		return nil, err
	}
	data.UIDValidity = sess.srv.uidValidityOf(dest, data.UIDValidity)
	return data, nil
}

// Move is COPY, then \Deleted and EXPUNGE of exactly the copied messages,
// rather than imapmemserver's Move, which writes its own UIDVALIDITY into
// COPYUID. The EXPUNGE responses reach the client through the poll that
// follows every command.
func (sess *imapSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	if err := sess.fault("MOVE"); err != nil {
		return err
	}
	if sess.srv.opts.NoUIDPlus && !sess.srv.opts.KeepMove || sess.srv.opts.NoMove {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "MOVE is not supported"}
	}
	data, err := sess.UserSession.Copy(numSet, dest)
	if err != nil {
		return err
	}
	// A silent STORE writes no FETCH responses, so it needs no writer.
	deleted := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := sess.UserSession.Store(nil, data.SourceUIDs, deleted, nil); err != nil {
		return err
	}
	if err := sess.UserSession.Expunge(&imapserver.ExpungeWriter{}, &data.SourceUIDs); err != nil {
		return err
	}
	if sess.srv.opts.NoUIDPlus {
		return nil // COPYUID is part of UIDPLUS
	}
	data.UIDValidity = sess.srv.uidValidityOf(dest, data.UIDValidity)
	return w.WriteCopyData(data)
}

func (sess *imapSession) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	if err := sess.fault("STORE"); err != nil {
		return err
	}
	return sess.UserSession.Store(w, numSet, flags, options)
}

// idlePoll is how often an idling session looks for changes.
const idlePoll = 10 * time.Millisecond

// Idle reports changes to the selected folder as they come. imapmemserver's
// own Idle only listens for changes made after it starts, which is after
// the client has been told "+ idling": a message delivered in between
// would wait for the next change. Like a real server, this looks at the
// folder at once, and then every idlePoll.
func (sess *imapSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	tick := time.NewTicker(idlePoll)
	defer tick.Stop()
	for {
		if err := sess.UserSession.Poll(w, true); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
	}
}

func (sess *imapSession) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	if err := sess.fault("EXPUNGE"); err != nil {
		return err
	}
	if uids != nil && sess.srv.opts.NoUIDPlus {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "UID EXPUNGE is not supported"}
	}
	return sess.UserSession.Expunge(w, uids)
}

func (sess *imapSession) Delete(mailbox string) error {
	if err := sess.UserSession.Delete(mailbox); err != nil {
		return err
	}
	sess.srv.renameUIDValidity(mailbox, "")
	return nil
}

func (sess *imapSession) Rename(mailbox, newName string, options *imap.RenameOptions) error {
	if err := sess.UserSession.Rename(mailbox, newName, options); err != nil {
		return err
	}
	sess.srv.renameUIDValidity(mailbox, newName)
	return nil
}

func (sess *imapSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	if err := sess.fault(fetchName(options)); err != nil {
		return err
	}
	err := sess.UserSession.Fetch(w, numSet, options)
	if sess.internal || !fetchesWholeMessage(options) {
		return err
	}
	// Fetch has resolved "*" in numSet in place, so the search sees the
	// messages the fetch served. A fetch that failed half-way still counts:
	// the server sent the message.
	data, searchErr := sess.UserSession.Search(imapserver.NumKindUID, numSetCriteria(numSet), &imap.SearchOptions{})
	if searchErr != nil {
		return errors.Join(err, searchErr)
	}
	uidSet, _ := data.All.(imap.UIDSet)
	uids, _ := uidSet.Nums()
	fetched := make([]uint32, len(uids))
	for i, uid := range uids {
		fetched[i] = uint32(uid)
	}
	sess.srv.recordFetch(fetched)
	return err
}

// fetchName is how Fault names a FETCH: "FETCH" when it asks for content
// (a message, its header), "FETCH SIZE" when it asks for no section, as
// the RFC822.SIZE a run asks for with its listing.
func fetchName(options *imap.FetchOptions) string {
	if len(options.BodySection) == 0 {
		return "FETCH SIZE"
	}
	return "FETCH"
}

func fetchesWholeMessage(options *imap.FetchOptions) bool {
	for _, bs := range options.BodySection {
		if bs.Specifier == imap.PartSpecifierNone && len(bs.Part) == 0 {
			return true
		}
	}
	return false
}

func numSetCriteria(numSet imap.NumSet) *imap.SearchCriteria {
	switch set := numSet.(type) {
	case imap.SeqSet:
		return &imap.SearchCriteria{SeqNum: []imap.SeqSet{set}}
	case imap.UIDSet:
		return &imap.SearchCriteria{UID: []imap.UIDSet{set}}
	}
	panic(fmt.Sprintf("testmail: unknown IMAP number set %T", numSet))
}

// pipeListener serves in-memory connections, so that the server can read
// its own mailboxes without a second port or the user's password.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// pipeConn marks the server side of an in-memory connection.
type pipeConn struct{ net.Conn }

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "testmail", Net: "pipe"} }

func (l *pipeListener) dial() (net.Conn, error) {
	return l.dialAs(func(server net.Conn) net.Conn { return pipeConn{server} })
}

// dialAs is dial with the server's end wrapped by mark, which tells the
// server's NewSession what the connection is for.
func (l *pipeListener) dialAs(mark func(server net.Conn) net.Conn) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- mark(server):
		return client, nil
	case <-l.done:
		client.Close()
		server.Close()
		return nil, errors.New("testmail: IMAP test server is closed")
	}
}
