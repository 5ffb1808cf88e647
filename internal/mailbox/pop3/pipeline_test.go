package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// numbered is n one-line messages, "message 1" to "message n", as Fetch
// sees them. They carry no UIDL, so Fetch takes them by their numbers
// without listing first, which the scripted servers do not answer.
func numbered(n int) (raws [][]byte, msgs []mailbox.Message) {
	for i := 1; i <= n; i++ {
		raw := fmt.Appendf(nil, "Subject: %d\r\n\r\nmessage %d\r\n", i, i)
		raws = append(raws, raw)
		msgs = append(msgs, mailbox.Message{Num: i, Size: int64(len(raw))})
	}
	return raws, msgs
}

// TestFetchPipelines: against a server whose CAPA lists PIPELINING, the
// RETR of the next message is on the wire before the first is answered.
// The scripted server answers RETR 1 only once RETR 2 has arrived. The
// session signed in with USER and PASS, which asks no CAPA: Fetch must.
func TestFetchPipelines(t *testing.T) {
	raws, msgs := numbered(3)
	s, served := scripted(t, raws, "RETR")
	ctx := testCtx(t)
	var got []string
	err := s.Fetch(ctx, msgs, func(m mailbox.Message, body io.Reader) error {
		b, err := io.ReadAll(body)
		got = append(got, string(b))
		return err
	})
	if err != nil {
		t.Fatalf("Fetch: %v (server: %v)", err, <-served)
	}
	quitScripted(t, s, served)
	for i, raw := range raws {
		if got[i] != string(raw) {
			t.Errorf("message %d = %q, want %q", i+1, got[i], raw)
		}
	}
}

// scripted starts servePipelined(raws, verb) and returns a Session signed
// in to it with USER and PASS, its capabilities not asked, and where the
// server's verdict arrives.
func scripted(t *testing.T, raws [][]byte, verb string) (*Session, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	served := make(chan error, 1)
	go func() { served <- servePipelined(ln, raws, verb) }()

	ctx := testCtx(t)
	c, err := Dial(ctx, ln.Addr().String(), Options{Security: "none", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(ctx, testUser, testPass); err != nil {
		t.Fatal(err)
	}
	return &Session{c: c, addr: ln.Addr().String()}, served
}

// quitScripted ends the session with the scripted server and fails t if
// the server found fault with what it was sent.
func quitScripted(t *testing.T, s *Session, served <-chan error) {
	t.Helper()
	if err := s.c.Quit(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// servePipelined speaks just enough POP3 for the pipelining tests, and
// fails unless "<verb> 2" arrives before "<verb> 1" is answered. verb is
// RETR, or TOP for a server without UIDL whose TOP n 0 the client reads
// instead.
func servePipelined(ln net.Listener, raws [][]byte, verb string) error {
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	br, bw := bufio.NewReader(conn), bufio.NewWriter(conn)
	say := func(lines ...string) {
		for _, l := range lines {
			bw.WriteString(l + "\r\n")
		}
		bw.Flush()
	}
	var asked []int
	say("+OK ready")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("after %s %v: %w", verb, asked, err)
		}
		cmd := strings.TrimRight(line, "\r\n")
		switch v, arg, _ := strings.Cut(cmd, " "); v {
		case "CAPA":
			if verb == "TOP" {
				say("+OK", "USER", "TOP", "PIPELINING", ".")
			} else {
				say("+OK", "USER", "UIDL", "PIPELINING", ".")
			}
		case "USER", "PASS":
			say("+OK")
		case "LIST":
			say("+OK")
			for i, raw := range raws {
				say(fmt.Sprintf("%d %d", i+1, len(raw)))
			}
			say(".")
		case "QUIT":
			say("+OK bye")
			return nil
		case verb:
			var n int
			fmt.Sscan(arg, &n)
			asked = append(asked, n)
			if n == 1 && br.Buffered() == 0 {
				// The next command must come without the client waiting for this reply.
				if _, err := br.Peek(1); err != nil {
					return fmt.Errorf("%s 2 did not follow %s 1 before its reply: %w", verb, verb, err)
				}
			}
			reply := raws[n-1]
			if verb == "TOP" {
				reply = reply[:bytes.Index(reply, []byte("\r\n\r\n"))+4]
			}
			say("+OK")
			bw.Write(reply)
			say(".")
		default:
			say("-ERR unknown " + cmd)
		}
	}
}

// TestHeaderKeysPipeline: without UIDL, the TOP n 0 that key each message
// are sent ahead too, and each message gets the key of its own header.
func TestHeaderKeysPipeline(t *testing.T) {
	raws, _ := numbered(3)
	s, served := scripted(t, raws, "TOP")
	keys, err := s.headerKeys(testCtx(t), nil)
	if err != nil {
		t.Fatalf("headerKeys: %v (server: %v)", err, <-served)
	}
	quitScripted(t, s, served)
	if len(keys) != len(raws) {
		t.Fatalf("%d keys for %d messages", len(keys), len(raws))
	}
	for i, k := range keys {
		header := raws[i][:bytes.Index(raws[i], []byte("\r\n\r\n"))+4]
		if want := headerKey(header, int64(len(raws[i]))); k.Num != i+1 || k.ID != want {
			t.Errorf("key %d = %+v, want message %d keyed %s", i, k, i+1, want)
		}
	}
}

// TestFetchStopsInStep: a caller that stops early leaves RETRs sent ahead
// unanswered; their replies are read and discarded before the next
// command, so DELE and QUIT get their own replies and take effect.
func TestFetchStopsInStep(t *testing.T) {
	raws, msgs := numbered(20)
	srv := startServer(t, testmail.POP3Options{}, raws...)
	c := login(t, srv, Options{})
	s := &Session{c: c, addr: srv.Addr()}
	ctx := testCtx(t)
	stop := errors.New("stop")
	err := s.Fetch(ctx, msgs, func(m mailbox.Message, body io.Reader) error {
		if m.Num == 2 {
			return stop
		}
		_, err := io.Copy(io.Discard, body)
		return err
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Fetch = %v, want the caller's error", err)
	}
	if len(c.ahead) == 0 {
		t.Fatal("nothing was sent ahead; the test proves nothing")
	}
	if err := c.Dele(ctx, 1); err != nil {
		t.Fatalf("DELE after stopping early: %v", err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatalf("QUIT after stopping early: %v", err)
	}
	if left := srv.Messages(); len(left) != 19 || string(left[0]) != string(raws[1]) {
		t.Errorf("after DELE 1 and QUIT: %d messages left, first %q", len(left), left[0])
	}
}

// TestFetchWithoutCAPA: a server of RFC 1939 alone answers CAPA with -ERR.
// The CAPA that Fetch asks must not fail the fetch: the messages come one
// command at a time, each byte for byte.
func TestFetchWithoutCAPA(t *testing.T) {
	raws, msgs := numbered(5)
	srv := startServer(t, testmail.POP3Options{Fault: func(cmd string) string {
		if strings.EqualFold(cmd, "CAPA") {
			return "-ERR unknown command"
		}
		return ""
	}}, raws...)
	c := login(t, srv, Options{})
	s := &Session{c: c, addr: srv.Addr()}
	var got [][]byte
	err := s.Fetch(testCtx(t), msgs, func(m mailbox.Message, body io.Reader) error {
		b, err := io.ReadAll(body)
		got = append(got, b)
		return err
	})
	if err != nil {
		t.Fatalf("Fetch from a server without CAPA: %v", err)
	}
	if c.Pipelining() {
		t.Error("pipelining without PIPELINING in a CAPA")
	}
	if len(got) != len(raws) {
		t.Fatalf("%d of %d messages fetched", len(got), len(raws))
	}
	for i := range raws {
		if !bytes.Equal(got[i], raws[i]) {
			t.Errorf("message %d = %q, want %q", i+1, got[i], raws[i])
		}
	}
}
