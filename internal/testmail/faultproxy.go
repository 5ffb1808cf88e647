package testmail

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// FaultKind is what a Fault does to a connection.
type FaultKind int

const (
	// FaultNone forwards everything untouched; the zero Fault is a clean
	// connection.
	FaultNone FaultKind = iota
	// FaultDrop resets the connection once After bytes of the server's reply to
	// the arming command have reached the client: with After inside a
	// message, the connection dies mid-literal.
	FaultDrop
	// FaultStall stops forwarding the server's replies once After bytes of the
	// reply to the arming command have passed, and keeps the connection
	// open, so only the client's own timeout ends the wait.
	FaultStall
	// FaultAnswer does not forward the arming command; the proxy answers it
	// with Reply instead, e.g. "{tag} NO [UNAVAILABLE] ...". The answer
	// comes in its place in the stream, after the server's replies to the
	// commands the client pipelined before it: the proxy sends the server
	// a NOOP instead and puts Reply in the place of the NOOP's reply. An
	// IMAP Reply that is an untagged BYE ("* BYE Session invalidated -
	// AccessTokenExpired") ends the connection after it, as a server
	// that sends one does.
	FaultAnswer
	// FaultRewrite forwards the arming command and replaces the server's tagged
	// completion of it with Reply (IMAP only), e.g. the "{tag} OK
	// [Error=...] ..." Exchange sends.
	FaultRewrite
	// FaultUIDAfterLiteral moves the UID item behind the message literal in
	// every FETCH response from the arming command on (IMAP only), as
	// Exchange does when a fetch sets \Seen.
	FaultUIDAfterLiteral
	// FaultCall calls Call when the arming command arrives, before
	// forwarding it, and forwards everything untouched: a Call that blocks
	// holds this connection there, whatever the others do.
	FaultCall
)

// Fault is what happens to one proxied connection.
type Fault struct {
	Kind FaultKind
	// On arms the fault at the Nth client command line containing On
	// (case-insensitive), e.g. "UID FETCH", "RETR", "LOGIN". Empty arms it
	// at connect, counting from the server's greeting.
	On  string
	Nth int // 0 means 1
	// After counts the bytes of the server's stream, from the arming
	// command on, that pass before FaultDrop or FaultStall strikes.
	After int64
	// Reply is the line FaultAnswer or FaultRewrite sends, without CRLF; "{tag}"
	// stands for the IMAP tag of the arming command.
	Reply string
	// Call is what FaultCall calls.
	Call func()
}

// FaultProxyOptions configure StartFaultProxy.
type FaultProxyOptions struct {
	// Target is the real server's plain-text port (host:port): the proxy
	// reads and rewrites the protocol, so it cannot be behind TLS.
	Target string
	// TLS, when set, makes the proxy a TLS server (implicit TLS, like
	// IMAPS and POP3S) to its clients.
	TLS *tls.Config
	// Faults[i] happens to the i-th accepted connection (from 0); later
	// connections pass through, so a re-run after a fault runs clean.
	Faults []Fault
}

// FaultProxy is a TCP proxy between a client under test and a real server
// that injects one fault per connection as planned.
type FaultProxy struct {
	ln     net.Listener
	opts   FaultProxyOptions
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[*proxyConn]bool
	closed bool
	count  atomic.Int64
	struck atomic.Int64
	// armedBy is the client's command line that armed the first fault
	// (ArmedBy).
	armedBy atomic.Value
	// refusal, when set, answers every matching command of every
	// connection (Refuse).
	refusal atomic.Pointer[Fault]
}

// Refuse makes the proxy answer every client command line containing on
// (case-insensitive), on every connection, with reply ("{tag}" standing
// for the command's IMAP tag) instead of forwarding it, until Refuse is
// called with on empty: a server that keeps refusing an action, such as a
// folder over quota, until an admin fixes it. Each refusal counts in
// Struck. Like FaultAnswer, a refusal comes in pipeline order. It applies
// to every connection but those whose planned fault is FaultDrop or
// FaultStall, which pass the server's stream on as bytes.
func (p *FaultProxy) Refuse(on, reply string) {
	if on == "" {
		p.refusal.Store(nil)
		return
	}
	p.refusal.Store(&Fault{Kind: FaultAnswer, On: on, Reply: reply})
}

// StartFaultProxy listens on a loopback port and proxies each connection to
// opts.Target.
func StartFaultProxy(opts FaultProxyOptions) (*FaultProxy, error) {
	if opts.Target == "" {
		return nil, errors.New("testmail: FaultProxyOptions.Target is empty")
	}
	for i, f := range opts.Faults {
		if (f.Kind == FaultAnswer || f.Kind == FaultRewrite) && f.On == "" {
			return nil, fmt.Errorf("testmail: Faults[%d]: FaultAnswer and FaultRewrite need On, the command to answer", i)
		}
		if f.Kind == FaultCall && (f.On == "" || f.Call == nil) {
			return nil, fmt.Errorf("testmail: Faults[%d]: FaultCall needs On and Call", i)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &FaultProxy{ln: ln, opts: opts, conns: map[*proxyConn]bool{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

// Connections returns how many connections the proxy has accepted.
func (p *FaultProxy) Connections() int { return int(p.count.Load()) }

// Struck returns how many planned faults actually happened: a fault whose
// arming command never came, or whose After bytes never passed, did not.
func (p *FaultProxy) Struck() int { return int(p.struck.Load()) }

// ArmedBy returns the client's command line (without CRLF) that armed the
// first fault to arm, or "" if none did or the fault armed at connect. It
// says which messages a fault keyed on the Nth command hit, which depends
// on how the client spread its commands over its connections.
func (p *FaultProxy) ArmedBy() string {
	line, _ := p.armedBy.Load().(string)
	return line
}

// Close stops accepting, drops every connection and waits for the proxy's
// goroutines to end.
func (p *FaultProxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.shut()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *FaultProxy) accept() {
	defer p.wg.Done()
	for {
		raw, err := p.ln.Accept()
		if err != nil {
			return
		}
		n := int(p.count.Add(1)) - 1
		var f Fault
		if n < len(p.opts.Faults) {
			f = p.opts.Faults[n]
		}
		if f.Nth == 0 {
			f.Nth = 1
		}
		c := &proxyConn{p: p, fault: f, clientRaw: raw, stop: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			raw.Close()
			return
		}
		p.conns[c] = true
		p.wg.Add(1)
		p.mu.Unlock()
		go c.serve()
	}
}

// proxyConn is one proxied connection.
type proxyConn struct {
	p         *FaultProxy
	fault     Fault
	clientRaw net.Conn // the TCP connection, closed abruptly on FaultDrop
	client    net.Conn // clientRaw, or TLS over it
	server    net.Conn
	// replies reads the server's stream once the greeting has been read
	// from it (all but FaultDrop and FaultStall); nil otherwise.
	replies *bufio.Reader
	pop3    bool // the greeting was POP3's "+OK"

	// answers maps the tag of an IMAP command the proxy answers to the
	// reply that replaces the server's completion of the NOOP sent for it.
	answers sync.Map
	// expect holds, for a POP3 connection, one entry per line sent to the
	// server, in order: the server answers POP3 commands in order, so its
	// k-th reply belongs to the k-th line.
	expect chan pop3Expect

	armed atomic.Bool
	tag   atomic.Value // string: the arming command's IMAP tag

	mu      sync.Mutex // guards server and stopped against a concurrent shut
	stopped bool
	stop    chan struct{} // closed by shut
}

func (c *proxyConn) serve() {
	defer c.p.wg.Done()
	defer func() {
		c.shut()
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
	}()
	c.client = c.clientRaw
	if c.p.opts.TLS != nil {
		tc := tls.Server(c.clientRaw, c.p.opts.TLS)
		if err := tc.Handshake(); err != nil {
			return
		}
		c.client = tc
	}
	server, err := net.Dial("tcp", c.p.opts.Target)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.server = server
	stopped := c.stopped
	c.mu.Unlock()
	if stopped {
		server.Close()
		return
	}
	if c.fault.Kind != FaultDrop && c.fault.Kind != FaultStall {
		if !c.readGreeting() {
			return
		}
	}
	if c.fault.On == "" && c.fault.Kind != FaultNone {
		c.arm("")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.fromClient()
		c.shut()
	}()
	c.fromServer()
	c.shut()
	<-done
}

// shut ends the connection both ways; a stalled direction wakes up.
func (c *proxyConn) shut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.stopped = true
	close(c.stop)
	c.clientRaw.Close()
	if c.server != nil {
		c.server.Close()
	}
}

// drop resets the client's connection without a TLS close_notify or a
// FIN, as a dying network or server does.
func (c *proxyConn) drop() {
	if tcp, ok := c.clientRaw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	c.p.struck.Add(1)
	c.shut()
}

func (c *proxyConn) arm(tag string) {
	c.tag.Store(tag)
	c.armed.Store(true)
}

// readGreeting passes the server's greeting on and tells POP3 from IMAP
// by it.
func (c *proxyConn) readGreeting() bool {
	c.replies = bufio.NewReader(c.server)
	greeting, err := c.replies.ReadBytes('\n')
	if err != nil || c.writeClient(greeting) != nil {
		return false
	}
	if bytes.HasPrefix(greeting, []byte("+OK")) {
		c.pop3 = true
		c.expect = make(chan pop3Expect, 4096)
	}
	return true
}

func (c *proxyConn) writeClient(b []byte) error {
	_, err := c.client.Write(b)
	return err
}

// fromClient forwards the client's command lines (and the literals they
// announce) to the server, watching for the arming command.
func (c *proxyConn) fromClient() {
	r := bufio.NewReader(c.client)
	seen := 0
	on := strings.ToLower(c.fault.On)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		if r := c.p.refusal.Load(); r != nil && c.replies != nil && bytes.Contains(bytes.ToLower(line), []byte(strings.ToLower(r.On))) {
			tag, _, _ := strings.Cut(string(line), " ")
			c.p.struck.Add(1)
			if err := c.answer(tag, strings.ReplaceAll(r.Reply, "{tag}", tag)); err != nil {
				return
			}
			continue
		}
		if on != "" && !c.armed.Load() && bytes.Contains(bytes.ToLower(line), []byte(on)) {
			seen++
			if seen == c.fault.Nth {
				tag, _, _ := strings.Cut(string(line), " ")
				c.arm(tag)
				c.p.armedBy.CompareAndSwap(nil, strings.TrimRight(string(line), "\r\n"))
				switch c.fault.Kind {
				case FaultAnswer:
					c.p.struck.Add(1)
					if err := c.answer(tag, c.reply()); err != nil {
						return
					}
					continue
				case FaultCall:
					c.p.struck.Add(1)
					c.fault.Call()
				}
			}
		}
		if c.pop3 && !c.expectReply(pop3Expect{multiLine: pop3MultiLine(line)}) {
			return
		}
		if _, err := c.server.Write(line); err != nil {
			return
		}
		if n, ok := literalSize(line); ok {
			if _, err := io.CopyN(c.server, r, n); err != nil {
				return
			}
		}
	}
}

// answer sends the server a NOOP in place of the client's command and
// has the server's side of the proxy put reply where the NOOP's reply
// comes, so that it reaches the client after the replies to everything
// pipelined before it.
func (c *proxyConn) answer(tag, reply string) error {
	if c.pop3 {
		if !c.expectReply(pop3Expect{answer: reply}) {
			return net.ErrClosed
		}
		_, err := c.server.Write([]byte("NOOP\r\n"))
		return err
	}
	c.answers.Store(tag, reply)
	_, err := c.server.Write([]byte(tag + " NOOP\r\n"))
	return err
}

// expectReply queues what the server's reply to the next line sent
// should be, or reports false once the connection is shut: a client that
// pipelines thousands of lines must not hold the proxy's Close when the
// server's side has stopped taking them.
func (c *proxyConn) expectReply(e pop3Expect) bool {
	select {
	case c.expect <- e:
		return true
	case <-c.stop:
		return false
	}
}

func (c *proxyConn) reply() string {
	tag, _ := c.tag.Load().(string)
	return strings.ReplaceAll(c.fault.Reply, "{tag}", tag)
}

// fromServer forwards the server's stream to the client, applying the
// fault once armed.
func (c *proxyConn) fromServer() {
	switch {
	case c.replies == nil:
		c.bytes()
	case c.pop3:
		c.pop3Replies()
	default:
		c.imapResponses()
	}
}

// bytes copies the server's stream as it comes, counting from arming for
// FaultDrop and FaultStall.
func (c *proxyConn) bytes() {
	buf := make([]byte, 32*1024)
	var passed int64
	for {
		n, err := c.server.Read(buf)
		chunk := buf[:n]
		if c.armed.Load() && (c.fault.Kind == FaultDrop || c.fault.Kind == FaultStall) {
			if left := c.fault.After - passed; int64(len(chunk)) >= left {
				if werr := c.writeClient(chunk[:max(left, 0)]); werr != nil {
					return
				}
				if c.fault.Kind == FaultDrop {
					c.drop()
					return
				}
				c.p.struck.Add(1)
				<-c.stop // until the client gives up or the proxy closes
				return
			}
			passed += int64(len(chunk))
		}
		if len(chunk) > 0 {
			if werr := c.writeClient(chunk); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// fetchWithUID matches the first line of a FETCH response whose UID comes
// before the message literal: "* 3 FETCH (UID 7 BODY[] {1234}".
var fetchWithUID = regexp.MustCompile(`^(\* \d+ FETCH \()(.*?)UID (\d+) ?(.*\{\d+\}\r\n)$`)

// imapResponses forwards the server's stream response by response, for
// the faults that rewrite IMAP responses.
func (c *proxyConn) imapResponses() {
	r := c.replies
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			c.writeClient(line)
			return
		}
		if tag, _, ok := bytes.Cut(line, []byte(" ")); ok {
			if reply, answered := c.answers.LoadAndDelete(string(tag)); answered {
				line = []byte(reply.(string) + "\r\n")
				if bytes.HasPrefix(line, []byte("* BYE")) {
					c.writeClient(line)
					return
				}
			}
		}
		if c.armed.Load() {
			tag, _ := c.tag.Load().(string)
			switch {
			case c.fault.Kind == FaultRewrite && tag != "" && bytes.HasPrefix(line, []byte(tag+" ")):
				c.p.struck.Add(1)
				line = []byte(c.reply() + "\r\n")
			case c.fault.Kind == FaultUIDAfterLiteral:
				if m := fetchWithUID.FindSubmatch(line); m != nil {
					if err := c.uidAfterLiteral(r, m); err != nil {
						return
					}
					continue
				}
			}
		}
		if err := c.forwardResponse(r, line); err != nil {
			return
		}
	}
}

// forwardResponse writes line and, while it ends in a literal, the
// literal and the line that continues the response.
func (c *proxyConn) forwardResponse(r *bufio.Reader, line []byte) error {
	for {
		if err := c.writeClient(line); err != nil {
			return err
		}
		n, ok := literalSize(line)
		if !ok {
			return nil
		}
		if err := c.copyToClient(r, n); err != nil {
			return err
		}
		var err error
		if line, err = r.ReadBytes('\n'); err != nil {
			c.writeClient(line)
			return err
		}
	}
}

// uidAfterLiteral rewrites "* 3 FETCH (UID 7 BODY[] {n}" literal ")" into
// "* 3 FETCH (BODY[] {n}" literal " UID 7)".
func (c *proxyConn) uidAfterLiteral(r *bufio.Reader, m [][]byte) error {
	c.p.struck.Add(1)
	head := string(m[1]) + string(m[2]) + string(m[4])
	if err := c.writeClient([]byte(head)); err != nil {
		return err
	}
	n, _ := literalSize(m[4])
	if err := c.copyToClient(r, n); err != nil {
		return err
	}
	rest, err := r.ReadBytes('\n')
	if err != nil {
		return err
	}
	i := bytes.LastIndexByte(rest, ')')
	if i < 0 {
		return fmt.Errorf("FETCH response does not end in ')': %q", rest)
	}
	out := append([]byte{}, rest[:i]...)
	out = append(out, " UID "+string(m[3])...)
	out = append(out, rest[i:]...)
	return c.forwardResponse(r, out)
}

func (c *proxyConn) copyToClient(r *bufio.Reader, n int64) error {
	_, err := io.CopyN(c.client, r, n)
	return err
}

// pop3Expect is what the proxy expects of the server's reply to one line
// it sent.
type pop3Expect struct {
	multiLine bool   // a "+OK" starts a dot-terminated block
	answer    string // the reply to put in its place, for an answered command
}

// pop3MultiLine reports whether a "+OK" reply to the POP3 command line is
// followed by a dot-terminated block (RFC 1939, RFC 2449).
func pop3MultiLine(line []byte) bool {
	verb, args, _ := strings.Cut(strings.TrimRight(string(line), "\r\n"), " ")
	switch strings.ToUpper(verb) {
	case "RETR", "TOP", "CAPA":
		return true
	case "LIST", "UIDL":
		return args == ""
	}
	return false
}

// pop3Replies forwards the server's POP3 replies one by one, each matched
// to the line it answers, and puts the planned answers in their places.
func (c *proxyConn) pop3Replies() {
	r := c.replies
	var block []byte
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			c.writeClient(line)
			return
		}
		var e pop3Expect
		select {
		case e = <-c.expect:
		default: // a reply to nothing, such as a timeout's "-ERR" before the server hangs up
		}
		if e.answer != "" {
			line = []byte(e.answer + "\r\n")
		}
		block = append(block[:0], line...)
		if e.multiLine && bytes.HasPrefix(line, []byte("+OK")) {
			for !bytes.Equal(line, []byte(".\r\n")) {
				if line, err = r.ReadBytes('\n'); err != nil {
					c.writeClient(append(block, line...))
					return
				}
				block = append(block, line...)
				if len(block) >= 64*1024 {
					if c.writeClient(block) != nil {
						return
					}
					block = block[:0]
				}
			}
		}
		if c.writeClient(block) != nil {
			return
		}
	}
}

// literalSize reports the size of the IMAP literal a line announces at its
// end: "{123}\r\n" or, from a client, the non-synchronising "{123+}\r\n".
func literalSize(line []byte) (int64, bool) {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if !bytes.HasSuffix(line, []byte("}")) {
		return 0, false
	}
	open := bytes.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	digits := bytes.TrimSuffix(line[open+1:len(line)-1], []byte("+"))
	n, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
