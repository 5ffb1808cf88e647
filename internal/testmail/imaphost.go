package testmail

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// IMAPHostOptions configure an IMAPHost.
type IMAPHostOptions struct {
	TLS *tls.Config // implicit TLS when set (use CA.ServerTLS); nil = plaintext

	// Folders are created for every user beside INBOX (e.g. "Processed").
	Folders []string

	// MaxConnsPerUser, when above 0, caps each user's signed-in
	// connections as Exchange Online does: a LOGIN beyond it is refused
	// with "NO User is authenticated but not connected." and recorded
	// (Refusals).
	MaxConnsPerUser int
	// Owner, when set, is asked at a refused LOGIN who holds each of the
	// user's open connections (by the client's address), while they are
	// still open: a test tells a connection its client has abandoned
	// (a paused process, say) from one it still uses.
	Owner func(client net.Addr) int

	// CutFetch, when set, is asked at each FETCH of a whole message (BODY[]
	// or BODY.PEEK[]) by user: a positive n closes the connection once n
	// more bytes have gone out to the client (inside the message when n
	// is below its size), as a server that crashes or a network that
	// breaks mid-download does. It may block, to hold the client in the
	// middle of a run.
	CutFetch func(user string, client net.Addr) int64
}

// IMAPHost is an in-process IMAP server on 127.0.0.1 with many mailboxes,
// one per user, like a mail host an operator polls hundreds of mailboxes
// of. It counts each user's connections (the most ever open at once, and
// the logins refused beyond IMAPHostOptions.MaxConnsPerUser), supports
// MOVE, takes new mail at any time (Append), can cut a connection in the
// middle of a message (IMAPHostOptions.CutFetch), and shows what every
// folder holds (Messages).
type IMAPHost struct {
	Addr string // host:port on 127.0.0.1

	opts  IMAPHostOptions
	srv   *imapserver.Server
	ln    net.Listener
	inner *pipeListener // pre-authenticated sessions for Messages
	serve sync.WaitGroup

	mu       sync.Mutex
	users    map[string]*hostUser
	refusals []Refusal
	cuts     int
}

// hostUser is one mailbox and its connections.
type hostUser struct {
	mem      *imapmemserver.User
	password string
	open     map[*hostSession]time.Time // signed-in connections, since when
	max      int                        // the most ever open at once
	// moving serialises MOVEs, so that a MOVE of messages another
	// connection has just moved finds nothing rather than racing it.
	moving sync.Mutex
}

// Refusal is a LOGIN an IMAPHost refused because the user had
// MaxConnsPerUser connections open.
type Refusal struct {
	User string
	At   time.Time
	// Open are the user's connections open at that moment.
	Open []OpenConn
}

// OpenConn is one signed-in connection.
type OpenConn struct {
	Client net.Addr  // the client's end
	Since  time.Time // when it signed in
	Owner  int       // what IMAPHostOptions.Owner said (0 without it)
}

// ConnCount is what an IMAPHost counted of one user's connections.
type ConnCount struct {
	Open, Max int // open now; the most ever open at once
}

// StartIMAPHost starts a host listening on 127.0.0.1:0, without users:
// AddUser adds them.
func StartIMAPHost(opts IMAPHostOptions) (*IMAPHost, error) {
	h := &IMAPHost{opts: opts, inner: newPipeListener(), users: map[string]*hostUser{}}
	h.srv = imapserver.New(&imapserver.Options{
		NewSession: h.newSession,
		// IMAP4rev1 with UIDPLUS and MOVE, as Exchange Online offers.
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapNamespace: {}, imap.CapUIDPlus: {}, imap.CapMove: {}},
		Logger:       log.New(io.Discard, "", 0),
		InsecureAuth: opts.TLS == nil,
	})
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start IMAP test host: %w", err)
	}
	h.Addr = tcp.Addr().String()
	h.ln = cutListener{tcp}
	if opts.TLS != nil {
		h.ln = tls.NewListener(h.ln, opts.TLS)
	}
	for _, l := range []net.Listener{h.ln, h.inner} {
		h.serve.Go(func() { h.srv.Serve(l) })
	}
	return h, nil
}

// Close stops the host and drops every connection.
func (h *IMAPHost) Close() error {
	// As IMAPServer.Close: listeners first, so that Serve has registered
	// them before the server closes.
	h.ln.Close()
	h.inner.Close()
	h.serve.Wait()
	return h.srv.Close()
}

// AddUser creates a mailbox signed in to as name with password, holding
// an empty INBOX and IMAPHostOptions.Folders.
func (h *IMAPHost) AddUser(name, password string) error {
	mem := imapmemserver.NewUser(name, password)
	for _, folder := range append([]string{"INBOX"}, h.opts.Folders...) {
		if err := mem.Create(folder, nil); err != nil {
			return fmt.Errorf("create %s of test user %q: %w", folder, name, err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.users[name]; ok {
		return fmt.Errorf("test user %q exists already", name)
	}
	h.users[name] = &hostUser{mem: mem, password: password, open: map[*hostSession]time.Time{}}
	return nil
}

func (h *IMAPHost) user(name string) (*hostUser, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, ok := h.users[name]
	if !ok {
		return nil, fmt.Errorf("no test user %q", name)
	}
	return u, nil
}

// Append adds a message to a folder of user and returns its UID.
func (h *IMAPHost) Append(user, folder string, raw []byte) (uint32, error) {
	u, err := h.user(user)
	if err != nil {
		return 0, err
	}
	data, err := u.mem.Append(folder, bytes.NewReader(raw), &imap.AppendOptions{})
	if err != nil {
		return 0, fmt.Errorf("append to %s of test user %q: %w", folder, user, err)
	}
	return uint32(data.UID), nil
}

// Count returns how many messages a folder of user holds now; cheaper
// than Messages, for polling.
func (h *IMAPHost) Count(user, folder string) (int, error) {
	u, err := h.user(user)
	if err != nil {
		return 0, err
	}
	data, err := u.mem.Status(folder, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		return 0, fmt.Errorf("count %s of test user %q: %w", folder, user, err)
	}
	return int(*data.NumMessages), nil
}

// Messages returns what a folder of user holds now, in UID order.
func (h *IMAPHost) Messages(user, folder string) ([]StoredMessage, error) {
	u, err := h.user(user)
	if err != nil {
		return nil, err
	}
	conn, err := h.inner.dialAs(func(server net.Conn) net.Conn { return userPipe{server, u} })
	if err != nil {
		return nil, err
	}
	c := imapclient.New(conn, nil)
	defer c.Close()
	data, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, fmt.Errorf("read %s of test user %q: %w", folder, user, err)
	}
	if data.NumMessages == 0 {
		return nil, nil
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	bufs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{wholeMessage}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("read %s of test user %q: %w", folder, user, err)
	}
	msgs := make([]StoredMessage, 0, len(bufs))
	for _, b := range bufs {
		msgs = append(msgs, StoredMessage{UID: uint32(b.UID), Flags: b.Flags, Raw: b.FindBodySection(wholeMessage)})
	}
	return msgs, nil
}

// Connections returns what the host counted of user's connections.
func (h *IMAPHost) Connections(user string) ConnCount {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, ok := h.users[user]
	if !ok {
		return ConnCount{}
	}
	return ConnCount{Open: len(u.open), Max: u.max}
}

// Refusals returns every LOGIN refused for MaxConnsPerUser, in order.
func (h *IMAPHost) Refusals() []Refusal {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.refusals)
}

// Cuts returns how many connections CutFetch has cut.
func (h *IMAPHost) Cuts() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cuts
}

// errNotConnected is Exchange Online's answer to a login beyond its
// connection limit.
var errNotConnected = &imap.Error{Type: imap.StatusResponseTypeNo, Text: "User is authenticated but not connected."}

// signIn admits sess as user, or refuses it beyond the cap.
func (h *IMAPHost) signIn(sess *hostSession, name, password string) error {
	h.mu.Lock()
	u, ok := h.users[name]
	h.mu.Unlock()
	if !ok || password != u.password {
		return imapserver.ErrAuthFailed
	}
	h.mu.Lock()
	over := h.opts.MaxConnsPerUser > 0 && len(u.open) >= h.opts.MaxConnsPerUser
	if !over {
		u.open[sess] = time.Now()
		u.max = max(u.max, len(u.open))
		h.mu.Unlock()
		sess.user = name
		sess.UserSession = imapmemserver.NewUserSession(u.mem)
		return nil
	}
	ref := Refusal{User: name, At: time.Now()}
	for s, since := range u.open {
		ref.Open = append(ref.Open, OpenConn{Client: s.client, Since: since})
	}
	h.mu.Unlock()
	// Asked outside the lock: Owner may look around the system.
	if h.opts.Owner != nil {
		for i := range ref.Open {
			ref.Open[i].Owner = h.opts.Owner(ref.Open[i].Client)
		}
	}
	h.mu.Lock()
	h.refusals = append(h.refusals, ref)
	h.mu.Unlock()
	return errNotConnected
}

// signOut forgets sess's connection.
func (h *IMAPHost) signOut(sess *hostSession) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if u, ok := h.users[sess.user]; ok {
		delete(u.open, sess)
	}
}

func (h *IMAPHost) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	netConn := c.NetConn()
	if p, ok := netConn.(userPipe); ok {
		return &hostSession{UserSession: imapmemserver.NewUserSession(p.user.mem), host: h, internal: true}, &imapserver.GreetingData{PreAuth: true}, nil
	}
	if tc, ok := netConn.(*tls.Conn); ok {
		netConn = tc.NetConn()
	}
	cc, _ := netConn.(*cutConn)
	return &hostSession{host: h, cut: cc, client: netConn.RemoteAddr()}, nil, nil
}

// hostSession is imapmemserver's session of one user, with the host's
// connection accounting and faults on top.
type hostSession struct {
	*imapmemserver.UserSession // nil until login

	host     *IMAPHost
	user     string   // set at login
	client   net.Addr // the client's end
	cut      *cutConn // the TCP connection under any TLS; nil for internal sessions
	internal bool     // the host's own inspection, not counted
}

func (sess *hostSession) Login(username, password string) error {
	return sess.host.signIn(sess, username, password)
}

func (sess *hostSession) Close() error {
	if !sess.internal {
		sess.host.signOut(sess)
	}
	return sess.UserSession.Close()
}

func (sess *hostSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	if !sess.internal && sess.host.opts.CutFetch != nil && fetchesWholeMessage(options) {
		if n := sess.host.opts.CutFetch(sess.user, sess.client); n > 0 && sess.cut != nil {
			sess.cut.cutAfter(n, sess.host.countCut)
		}
	}
	return sess.UserSession.Fetch(w, numSet, options)
}

// Move moves the messages of numSet that are still there. None left (a
// second client moved them first) is an OK without COPYUID, as real
// servers answer, rather than imapmemserver's COPYUID of empty sets,
// which clients cannot parse.
func (sess *hostSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	u, err := sess.host.user(sess.user)
	if err != nil {
		return err
	}
	u.moving.Lock()
	defer u.moving.Unlock()
	found, err := sess.UserSession.Search(numKind(numSet), numSetCriteria(numSet), &imap.SearchOptions{ReturnCount: true})
	if err != nil {
		return err
	}
	if found.Count == 0 {
		return nil
	}
	return sess.UserSession.Move(w, numSet, dest)
}

func numKind(numSet imap.NumSet) imapserver.NumKind {
	if _, ok := numSet.(imap.UIDSet); ok {
		return imapserver.NumKindUID
	}
	return imapserver.NumKindSeq
}

func (h *IMAPHost) countCut() {
	h.mu.Lock()
	h.cuts++
	h.mu.Unlock()
}

// cutListener hands out connections that can be cut mid-stream.
type cutListener struct{ net.Listener }

func (l cutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &cutConn{Conn: c}, nil
}

// cutConn closes itself once an armed number of bytes has been written.
// Writes after the cut are swallowed rather than failed: go-imap's server
// keeps a response encoder's lock when a write fails mid-FETCH and would
// hang the connection's goroutine; this way it finishes the reply into
// nothing, reads the next command from the closed connection, and ends
// the session as for any client gone.
type cutConn struct {
	net.Conn
	mu    sync.Mutex
	left  int64 // bytes to write before the cut; 0 = not armed
	onCut func()
	cut   bool
}

func (c *cutConn) cutAfter(n int64, onCut func()) {
	c.mu.Lock()
	c.left, c.onCut = n, onCut
	c.mu.Unlock()
}

func (c *cutConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	switch {
	case c.cut:
		c.mu.Unlock()
		return len(p), nil
	case c.left == 0 || int64(len(p)) < c.left:
		if c.left > 0 {
			c.left -= int64(len(p))
		}
		c.mu.Unlock()
		return c.Conn.Write(p)
	}
	n := c.left
	c.cut, c.left = true, 0
	onCut := c.onCut
	c.mu.Unlock()
	// Counted before the close: a client that has seen the connection
	// end must find the cut in Cuts.
	onCut()
	c.Conn.Write(p[:n])
	c.Conn.Close()
	return len(p), nil
}

// userPipe is the server's end of an inspection connection (Messages),
// and whose mailbox it opens.
type userPipe struct {
	net.Conn
	user *hostUser
}
