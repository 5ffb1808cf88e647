package testmail

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// pop3Conn is a raw POP3 conversation, to check the server's wire format
// independently of any client.
type pop3Conn struct {
	t *testing.T
	c *textproto.Conn
}

func pop3Dial(t *testing.T, s *POP3Server) *pop3Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	p := &pop3Conn{t: t, c: textproto.NewConn(nc)}
	t.Cleanup(func() { _ = p.c.Close() })
	p.expect("+OK")
	return p
}

// say sends line and returns the reply line, which must start with want.
func (p *pop3Conn) say(line, want string) string {
	p.t.Helper()
	if err := p.c.PrintfLine("%s", line); err != nil {
		p.t.Fatal(err)
	}
	return p.expect(want)
}

func (p *pop3Conn) expect(want string) string {
	p.t.Helper()
	got, err := p.c.ReadLine()
	if err != nil {
		p.t.Fatalf("waiting for %q: %v", want, err)
	}
	if !strings.HasPrefix(got, want) {
		p.t.Fatalf("got %q, want %q…", got, want)
	}
	return got
}

// body returns the raw bytes of a multi-line reply up to and including
// the terminating ".\r\n".
func (p *pop3Conn) body() string {
	p.t.Helper()
	var b strings.Builder
	for {
		line, err := p.c.R.ReadString('\n')
		if err != nil {
			p.t.Fatalf("reading body after %q: %v", b.String(), err)
		}
		b.WriteString(line)
		if line == ".\r\n" {
			return b.String()
		}
	}
}

func startPOP3(t *testing.T, opts POP3Options, msgs ...string) *POP3Server {
	t.Helper()
	if opts.Username == "" {
		opts.Username, opts.Password = "bob", "pw"
	}
	raws := make([][]byte, len(msgs))
	for i, m := range msgs {
		raws[i] = []byte(m)
	}
	s, err := StartPOP3(opts, raws...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (p *pop3Conn) login() {
	p.t.Helper()
	p.say("USER bob", "+OK")
	p.say("PASS pw", "+OK")
}

func TestPOP3ServerDotStuffing(t *testing.T) {
	s := startPOP3(t, POP3Options{}, ".a\r\n.\r\nb\nc\r\n..d\r\nlast")
	p := pop3Dial(t, s)
	p.login()
	p.say("RETR 1", "+OK")
	if got, want := p.body(), "..a\r\n..\r\nb\nc\r\n...d\r\nlast\r\n.\r\n"; got != want {
		t.Errorf("RETR wire = %q, want %q", got, want)
	}
	p.say("TOP 1 1", "+OK")
	// No blank line: the whole message is header, so TOP sends all of it.
	if got := p.body(); !strings.HasPrefix(got, "..a\r\n") {
		t.Errorf("TOP wire = %q", got)
	}
	if s.Retrieved() != 1 {
		t.Errorf("Retrieved = %d, want 1", s.Retrieved())
	}
}

func TestPOP3ServerTop(t *testing.T) {
	s := startPOP3(t, POP3Options{}, "A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\nthree\r\n")
	p := pop3Dial(t, s)
	p.login()
	for lines, want := range map[string]string{
		"0":  "A: 1\r\nB: 2\r\n\r\n.\r\n",
		"2":  "A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n.\r\n",
		"99": "A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\nthree\r\n.\r\n",
	} {
		p.say("TOP 1 "+lines, "+OK")
		if got := p.body(); got != want {
			t.Errorf("TOP 1 %s = %q, want %q", lines, got, want)
		}
	}
}

func TestPOP3ServerCapa(t *testing.T) {
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	s := startPOP3(t, POP3Options{TLS: ca.ServerTLS, StartTLS: true, XOAUTH2: func(string, string) bool { return true }})
	p := pop3Dial(t, s)
	p.say("CAPA", "+OK")
	capa := p.body()
	for _, want := range []string{"USER\r\n", "UIDL\r\n", "TOP\r\n", "PIPELINING\r\n", "SASL PLAIN XOAUTH2\r\n", "STLS\r\n"} {
		if !strings.Contains(capa, want) {
			t.Errorf("CAPA %q lacks %q", capa, want)
		}
	}
	p.say("USER bob", "-ERR [AUTH]")
	p.say("AUTH PLAIN", "-ERR [AUTH]")
}

func TestPOP3ServerNoUIDL(t *testing.T) {
	s := startPOP3(t, POP3Options{NoUIDL: true}, "a\r\n")
	p := pop3Dial(t, s)
	p.say("CAPA", "+OK")
	if capa := p.body(); strings.Contains(capa, "UIDL") {
		t.Errorf("CAPA %q offers UIDL", capa)
	}
	p.login()
	p.say("UIDL", "-ERR")
	p.say("LIST", "+OK")
	if got := p.body(); got != "1 3\r\n.\r\n" {
		t.Errorf("LIST = %q", got)
	}
}

// TestPOP3ServerSessions checks the lock, the snapshot and that DELE takes
// effect only through QUIT.
func TestPOP3ServerSessions(t *testing.T) {
	s := startPOP3(t, POP3Options{}, "one\r\n", "two\r\n")
	p := pop3Dial(t, s)
	p.login()
	p.say("UIDL", "+OK")
	uidls := p.body()

	other := pop3Dial(t, s)
	other.say("USER bob", "+OK")
	other.say("PASS pw", "-ERR [IN-USE]")

	s.Add([]byte("three\r\n"))
	p.say("STAT", "+OK 2 10")
	p.say("DELE 1", "+OK")
	p.say("DELE 1", "-ERR")
	p.say("RETR 1", "-ERR")
	p.say("STAT", "+OK 1 5")
	p.say("RSET", "+OK")
	p.say("STAT", "+OK 2 10")
	p.say("DELE 2", "+OK")
	if n := len(s.Messages()); n != 3 {
		t.Fatalf("DELE applied before QUIT: %d messages", n)
	}
	p.say("QUIT", "+OK")
	got := s.Messages()
	if len(got) != 2 || string(got[0]) != "one\r\n" || string(got[1]) != "three\r\n" {
		t.Fatalf("after QUIT: %q", got)
	}

	// QUIT released the lock before answering: no waiting here.
	q := pop3Dial(t, s)
	q.login()
	q.say("UIDL", "+OK")
	again := q.body()
	if first := strings.Fields(uidls)[1]; !strings.Contains(again, "1 "+first+"\r\n") {
		t.Errorf("UIDL of message one changed: %q then %q", uidls, again)
	}
	if strings.Count(again, "\r\n") != 3 {
		t.Errorf("UIDL after QUIT = %q, want 2 messages", again)
	}
}

func TestPOP3ServerXOAUTH2(t *testing.T) {
	s := startPOP3(t, POP3Options{XOAUTH2: func(user, token string) bool { return user == "bob" && token == "good" }}, "a\r\n")
	blob := func(token string) string {
		return base64.StdEncoding.EncodeToString([]byte("user=bob\x01auth=Bearer " + token + "\x01\x01"))
	}

	p := pop3Dial(t, s)
	p.say("AUTH XOAUTH2 "+blob("good"), "-ERR")
	p.say("AUTH XOAUTH2", "+ ")
	challenge := p.say(blob("bad"), "+ ")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(challenge, "+ "))
	if err != nil {
		t.Fatal(err)
	}
	var status map[string]string
	if err := json.Unmarshal(raw, &status); err != nil || status["status"] != "401" {
		t.Fatalf("failure challenge %q: %v", raw, err)
	}
	p.say("", "-ERR Authentication failure")

	p.say("AUTH XOAUTH2", "+ ")
	p.say(blob("good"), "+OK")
	p.say("STAT", "+OK 1 3")
}

func TestPOP3ServerAuthPlain(t *testing.T) {
	s := startPOP3(t, POP3Options{}, "a\r\n")
	plain := base64.StdEncoding.EncodeToString([]byte("\x00bob\x00pw"))
	p := pop3Dial(t, s)
	p.say("AUTH PLAIN", "+ ")
	p.say("*", "-ERR")
	p.say("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00bob\x00wrong")), "-ERR [AUTH]")
	p.say("AUTH PLAIN "+plain, "+OK")
	p.say("NOOP", "+OK")
}

func TestPOP3ServerFault(t *testing.T) {
	s := startPOP3(t, POP3Options{Fault: func(cmd string) string {
		switch cmd {
		case "NOOP":
			return "-ERR injected"
		case "STAT":
			return "DROP"
		}
		return ""
	}}, "a\r\n")
	p := pop3Dial(t, s)
	p.login()
	p.say("NOOP", "-ERR injected")
	if err := p.c.PrintfLine("STAT"); err != nil {
		t.Fatal(err)
	}
	if line, err := p.c.ReadLine(); err != io.EOF {
		t.Fatalf("after DROP: read %q, %v; want EOF", line, err)
	}
}

// TestPOP3ServerClose checks that Close ends sessions, stalled ones too.
func TestPOP3ServerClose(t *testing.T) {
	s := startPOP3(t, POP3Options{Fault: func(cmd string) string {
		if cmd == "STAT" {
			return "STALL"
		}
		return ""
	}}, "a\r\n")
	p := pop3Dial(t, s)
	p.login()
	if err := p.c.PrintfLine("STAT"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if line, err := p.c.ReadLine(); err == nil {
		t.Fatalf("stalled session still open after Close: read %q", line)
	}
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("listener still accepting after Close")
	}
}
