package testmail

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// POP3Options configure a POP3Server.
type POP3Options struct {
	// TLS, without StartTLS, makes the listener implicit TLS (like port
	// 995); with StartTLS the server offers STLS and refuses to log in
	// before it.
	TLS      *tls.Config
	StartTLS bool

	Username, Password string // for USER/PASS and AUTH PLAIN

	NoUIDL bool // answer -ERR to UIDL, as some old servers do

	// XOAUTH2, when set, offers AUTH XOAUTH2 the way Exchange Online does:
	// only in two steps, and on a refused token a "+ " failure challenge
	// (base64 JSON) that the client must answer with an empty line before
	// the final -ERR.
	XOAUTH2 func(user, token string) bool

	// Fault, when set, sees every command line ("" for the greeting) before
	// it is handled. A non-empty return is written as a raw line instead of
	// handling the command, except "STALL" (never answer again) and "DROP"
	// (close the connection). AUTH continuation lines are not commands.
	Fault func(cmd string) string

	// LockWait is how long a login waits for another session to release
	// the mailbox before it is refused with [IN-USE]; 0 means a second.
	LockWait time.Duration
}

// pop3LockWait is how long a login waits for another session to release
// the mailbox, unless POP3Options.LockWait says otherwise. Real servers
// wait too; it also spares tests a race between a client dropping its
// connection and the server noticing.
const pop3LockWait = time.Second

// POP3Server is an in-process POP3 server (RFC 1939, 2449, 2595, 5034) on
// 127.0.0.1 holding one mailbox. Each session sees a snapshot of the
// mailbox taken at login, deletions take effect only on QUIT, and a second
// concurrent session is refused, as on real servers.
type POP3Server struct {
	opts POP3Options
	ln   net.Listener
	lock chan struct{} // holds a token while a session owns the mailbox
	done chan struct{} // closed by Close
	wg   sync.WaitGroup

	mu        sync.Mutex
	msgs      []*pop3Message
	nextID    int
	retrieved int
	conns     map[net.Conn]struct{}
	closed    bool
}

type pop3Message struct {
	raw  []byte
	uidl string
}

// StartPOP3 starts a server on 127.0.0.1 holding messages, in order.
func StartPOP3(opts POP3Options, messages ...[]byte) (*POP3Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start POP3 test server: %w", err)
	}
	if opts.TLS != nil && !opts.StartTLS {
		ln = tls.NewListener(ln, opts.TLS)
	}
	s := &POP3Server{
		opts:  opts,
		ln:    ln,
		lock:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		conns: map[net.Conn]struct{}{},
	}
	for _, m := range messages {
		s.Add(m)
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the server's host:port.
func (s *POP3Server) Addr() string { return s.ln.Addr().String() }

// Add appends a message with a fresh UIDL. Sessions already logged in do
// not see it.
func (s *POP3Server) Add(raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.msgs = append(s.msgs, &pop3Message{
		raw:  bytes.Clone(raw),
		uidl: fmt.Sprintf("AAQkADtest%06d", s.nextID),
	})
}

// Messages returns the messages in the mailbox, deletions of finished
// sessions applied.
func (s *POP3Server) Messages() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = bytes.Clone(m.raw)
	}
	return out
}

// Retrieved counts the RETR commands answered so far.
func (s *POP3Server) Retrieved() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retrieved
}

// Close stops the listener, drops every connection and waits for their
// goroutines.
func (s *POP3Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	err := s.ln.Close()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *POP3Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = conn.Close()
			return
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(conn)
	}
}

func (s *POP3Server) serve(conn net.Conn) {
	defer s.wg.Done()
	sess := &pop3Session{srv: s, conn: conn, secure: s.opts.TLS != nil && !s.opts.StartTLS}
	sess.setStreams(conn)
	defer func() {
		if sess.snapshot != nil {
			<-s.lock
		}
		_ = conn.Close()
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
	}()
	if !sess.faulted("") {
		sess.reply("+OK mailtask test POP3 server ready")
	}
	for sess.flush() == nil {
		line, err := sess.readLine()
		if err != nil {
			return
		}
		if sess.faulted(line) {
			continue
		}
		if sess.handle(line) {
			_ = sess.flush()
			return
		}
	}
}

// pop3Session is one connection's state.
type pop3Session struct {
	srv    *POP3Server
	conn   net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	secure bool
	user   string
	// snapshot is nil in the AUTHORIZATION state; once logged in it holds
	// the messages numbered 1..n for this session, and the mailbox lock.
	snapshot []*pop3Message
	deleted  []bool
	gone     bool // STALL or DROP: stop serving
}

func (p *pop3Session) setStreams(c net.Conn) {
	p.br = bufio.NewReaderSize(c, 16<<10)
	p.bw = bufio.NewWriterSize(c, 64<<10)
}

func (p *pop3Session) reply(format string, args ...any) {
	fmt.Fprintf(p.bw, format+"\r\n", args...)
}

func (p *pop3Session) flush() error {
	if p.gone {
		return io.EOF
	}
	return p.bw.Flush()
}

func (p *pop3Session) readLine() (string, error) {
	line, err := p.br.ReadSlice('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// faulted applies opts.Fault to cmd and reports whether it replaced it.
func (p *pop3Session) faulted(cmd string) bool {
	if p.srv.opts.Fault == nil {
		return false
	}
	switch f := p.srv.opts.Fault(cmd); f {
	case "":
		return false
	case "STALL":
		// Swallow whatever the client sends until it gives up.
		_, _ = io.Copy(io.Discard, p.conn)
		p.gone = true
	case "DROP":
		p.gone = true
	default:
		p.reply("%s", f)
	}
	return true
}

// handle answers one command and reports whether the session is over.
func (p *pop3Session) handle(line string) bool {
	verb, args, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	if verb == "QUIT" {
		p.quit()
		return true
	}
	if verb == "CAPA" {
		p.capa()
		return false
	}
	if p.snapshot == nil {
		p.authorization(verb, args)
	} else {
		p.transaction(verb, strings.Fields(args))
	}
	return false
}

func (p *pop3Session) capa() {
	o := p.srv.opts
	p.reply("+OK capability list follows")
	p.reply("USER")
	if !o.NoUIDL {
		p.reply("UIDL")
	}
	p.reply("TOP")
	p.reply("PIPELINING")
	p.reply("RESP-CODES")
	p.reply("AUTH-RESP-CODE")
	if o.XOAUTH2 != nil {
		p.reply("SASL PLAIN XOAUTH2")
	} else {
		p.reply("SASL PLAIN")
	}
	if o.StartTLS && !p.secure {
		p.reply("STLS")
	}
	p.reply(".")
}

func (p *pop3Session) authorization(verb, args string) {
	o := p.srv.opts
	if verb == "STLS" {
		p.stls()
		return
	}
	if verb != "USER" && verb != "PASS" && verb != "AUTH" {
		p.reply("-ERR %s is not valid before login", verb)
		return
	}
	if o.StartTLS && !p.secure {
		p.reply("-ERR [AUTH] plaintext authentication refused before STLS")
		return
	}
	switch verb {
	case "USER":
		p.user = args
		p.reply("+OK send PASS")
	case "PASS":
		switch {
		case p.user == "":
			p.reply("-ERR USER first")
		case p.user != o.Username || args != o.Password:
			p.reply("-ERR [AUTH] Logon failure: unknown user name or bad password.")
		default:
			p.login()
		}
	case "AUTH":
		p.auth(args)
	}
}

func (p *pop3Session) stls() {
	o := p.srv.opts
	if !o.StartTLS || p.secure {
		p.reply("-ERR STLS not available")
		return
	}
	p.reply("+OK begin TLS negotiation")
	if p.bw.Flush() != nil {
		p.gone = true
		return
	}
	tc := tls.Server(p.conn, o.TLS)
	if tc.Handshake() != nil {
		p.gone = true
		return
	}
	// Lines the client pipelined behind STLS are dropped with the old
	// reader, as RFC 2595 requires.
	p.conn = tc
	p.setStreams(tc)
	p.secure = true
}

func (p *pop3Session) auth(args string) {
	o := p.srv.opts
	mech, ir, hasIR := strings.Cut(args, " ")
	switch strings.ToUpper(mech) {
	case "PLAIN":
		resp, ok := p.saslResponse(ir, hasIR)
		if !ok {
			return
		}
		parts := strings.Split(string(resp), "\x00")
		if len(parts) != 3 || parts[1] != o.Username || parts[2] != o.Password {
			p.reply("-ERR [AUTH] authentication failed")
			return
		}
		p.login()
		return
	case "XOAUTH2":
		if o.XOAUTH2 == nil {
			break
		}
		if hasIR {
			// Exchange Online's POP3 insists on the two-step exchange.
			p.reply("-ERR Protocol error: send AUTH XOAUTH2 alone, then the response")
			return
		}
		resp, ok := p.saslResponse("", false)
		if !ok {
			return
		}
		user, token, parsed := parseXOAUTH2(string(resp))
		if parsed && o.XOAUTH2(user, token) {
			p.login()
			return
		}
		challenge, _ := json.Marshal(map[string]string{
			"status": "401", "schemes": "bearer", "scope": "https://outlook.office.com/POP.AccessAsUser.All",
		})
		p.reply("+ %s", base64.StdEncoding.EncodeToString(challenge))
		if p.bw.Flush() != nil {
			p.gone = true
			return
		}
		if _, err := p.readLine(); err != nil {
			p.gone = true
			return
		}
		p.reply("-ERR Authentication failure: unknown user name or bad password.")
		return
	}
	p.reply("-ERR unsupported authentication mechanism %q", mech)
}

// saslResponse returns the client's decoded response: the initial one from
// the AUTH line, or the answer to an empty challenge. It has replied -ERR
// when ok is false.
func (p *pop3Session) saslResponse(ir string, hasIR bool) (resp []byte, ok bool) {
	if !hasIR {
		p.reply("+ ")
		if p.bw.Flush() != nil {
			p.gone = true
			return nil, false
		}
		line, err := p.readLine()
		if err != nil {
			p.gone = true
			return nil, false
		}
		ir = line
	}
	switch ir {
	case "*":
		p.reply("-ERR authentication cancelled")
		return nil, false
	case "=":
		return []byte{}, true
	}
	resp, err := base64.StdEncoding.DecodeString(ir)
	if err != nil {
		p.reply("-ERR invalid base64 in authentication response")
		return nil, false
	}
	return resp, true
}

func parseXOAUTH2(s string) (user, token string, ok bool) {
	for _, kv := range strings.Split(s, "\x01") {
		switch {
		case strings.HasPrefix(kv, "user="):
			user = kv[len("user="):]
		case strings.HasPrefix(kv, "auth=Bearer "):
			token = kv[len("auth=Bearer "):]
		}
	}
	return user, token, user != "" && token != "" && strings.HasSuffix(s, "\x01\x01")
}

// login takes the mailbox lock and its snapshot, entering TRANSACTION.
func (p *pop3Session) login() {
	s := p.srv
	select {
	case s.lock <- struct{}{}:
	case <-time.After(cmp.Or(s.opts.LockWait, pop3LockWait)):
		p.reply("-ERR [IN-USE] mailbox is locked by another POP3 session")
		return
	case <-s.done:
		p.gone = true
		return
	}
	s.mu.Lock()
	p.snapshot = append([]*pop3Message{}, s.msgs...)
	s.mu.Unlock()
	p.deleted = make([]bool, len(p.snapshot))
	p.reply("+OK mailbox locked and ready")
}

func (p *pop3Session) transaction(verb string, args []string) {
	switch verb {
	case "STAT":
		n, size := 0, 0
		for i, m := range p.snapshot {
			if !p.deleted[i] {
				n++
				size += len(m.raw)
			}
		}
		p.reply("+OK %d %d", n, size)
	case "LIST", "UIDL":
		p.listing(verb, args)
	case "RETR":
		if i, ok := p.message(args, 1); ok {
			p.reply("+OK %d octets", len(p.snapshot[i].raw))
			writeDotStuffed(p.bw, p.snapshot[i].raw)
			p.srv.mu.Lock()
			p.srv.retrieved++
			p.srv.mu.Unlock()
		}
	case "TOP":
		i, ok := p.message(args, 2)
		if !ok {
			return
		}
		lines, err := strconv.Atoi(args[1])
		if err != nil || lines < 0 {
			p.reply("-ERR bad line count %q", args[1])
			return
		}
		p.reply("+OK top of message follows")
		writeDotStuffed(p.bw, top(p.snapshot[i].raw, lines))
	case "DELE":
		if i, ok := p.message(args, 1); ok {
			p.deleted[i] = true
			p.reply("+OK message %d deleted", i+1)
		}
	case "RSET":
		clear(p.deleted)
		p.reply("+OK")
	case "NOOP":
		p.reply("+OK")
	default:
		p.reply("-ERR unknown command %q", verb)
	}
}

func (p *pop3Session) listing(verb string, args []string) {
	if verb == "UIDL" && p.srv.opts.NoUIDL {
		p.reply("-ERR unknown command \"UIDL\"")
		return
	}
	field := func(i int) string {
		if verb == "UIDL" {
			return p.snapshot[i].uidl
		}
		return strconv.Itoa(len(p.snapshot[i].raw))
	}
	if len(args) > 0 {
		if i, ok := p.message(args, 1); ok {
			p.reply("+OK %d %s", i+1, field(i))
		}
		return
	}
	p.reply("+OK")
	for i := range p.snapshot {
		if !p.deleted[i] {
			p.reply("%d %s", i+1, field(i))
		}
	}
	p.reply(".")
}

// message resolves args[0] as a live message number of this session,
// having replied -ERR when ok is false.
func (p *pop3Session) message(args []string, want int) (int, bool) {
	if len(args) != want {
		p.reply("-ERR wrong number of arguments")
		return 0, false
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || n > len(p.snapshot) {
		p.reply("-ERR no such message %q", args[0])
		return 0, false
	}
	if p.deleted[n-1] {
		p.reply("-ERR message %d already deleted", n)
		return 0, false
	}
	return n - 1, true
}

// quit ends the session; in TRANSACTION it first enters UPDATE, removing
// the messages marked deleted, and releases the lock before answering so
// that a client reconnecting right after never finds the mailbox busy.
func (p *pop3Session) quit() {
	if p.snapshot != nil {
		s := p.srv
		s.mu.Lock()
		kept := s.msgs[:0]
		for _, m := range s.msgs {
			if !p.isDeleted(m) {
				kept = append(kept, m)
			}
		}
		clear(s.msgs[len(kept):])
		s.msgs = kept
		s.mu.Unlock()
		p.snapshot = nil
		<-s.lock
	}
	p.reply("+OK bye")
}

func (p *pop3Session) isDeleted(m *pop3Message) bool {
	for i, sm := range p.snapshot {
		if sm == m {
			return p.deleted[i]
		}
	}
	return false
}

// writeDotStuffed writes msg as a POP3 multi-line body: a line (ended by
// CRLF; a bare LF is data) starting with "." gains another, a last line
// without CRLF gets one, and ".\r\n" ends it.
func writeDotStuffed(w *bufio.Writer, msg []byte) {
	for len(msg) > 0 {
		if msg[0] == '.' {
			w.WriteByte('.')
		}
		i := bytes.Index(msg, []byte("\r\n"))
		if i < 0 {
			w.Write(msg)
			w.WriteString("\r\n")
			break
		}
		w.Write(msg[:i+2])
		msg = msg[i+2:]
	}
	w.WriteString(".\r\n")
}

// top returns the header section of raw, the blank line, and the first
// lines lines of the body.
func top(raw []byte, lines int) []byte {
	end := len(raw)
	if bytes.HasPrefix(raw, []byte("\r\n")) {
		end = 2
	} else if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		end = i + 4
	}
	for ; lines > 0 && end < len(raw); lines-- {
		i := bytes.Index(raw[end:], []byte("\r\n"))
		if i < 0 {
			end = len(raw)
			break
		}
		end += i + 2
	}
	return raw[:end]
}
