package pop3

import (
	"bufio"
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
// sees them.
func numbered(n int) (raws [][]byte, msgs []mailbox.Message) {
	for i := 1; i <= n; i++ {
		raw := fmt.Appendf(nil, "Subject: %d\r\n\r\nmessage %d\r\n", i, i)
		raws = append(raws, raw)
		msgs = append(msgs, mailbox.Message{Num: i, UIDL: fmt.Sprint(i), Size: int64(len(raw))})
	}
	return raws, msgs
}

// TestFetchPipelines: against a server whose CAPA lists PIPELINING, the
// RETR of the next message is on the wire before the first is answered.
// The scripted server answers RETR 1 only once RETR 2 has arrived.
func TestFetchPipelines(t *testing.T) {
	raws, msgs := numbered(3)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() { served <- servePipelined(ln, raws) }()

	ctx := testCtx(t)
	c, err := Dial(ctx, ln.Addr().String(), Options{Security: "none", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, testUser, testPass); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Capabilities(ctx); err != nil {
		t.Fatal(err)
	}
	if !c.Pipelining() {
		t.Fatal("CAPA lists PIPELINING, yet the client does not pipeline")
	}
	s := &Session{c: c, addr: ln.Addr().String()}
	var got []string
	err = s.Fetch(ctx, msgs, func(m mailbox.Message, body io.Reader) error {
		b, err := io.ReadAll(body)
		got = append(got, string(b))
		return err
	})
	if err != nil {
		t.Fatalf("Fetch: %v (server: %v)", err, <-served)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	for i, raw := range raws {
		if got[i] != string(raw) {
			t.Errorf("message %d = %q, want %q", i+1, got[i], raw)
		}
	}
}

// servePipelined speaks just enough POP3 for TestFetchPipelines, and
// fails unless RETR 2 arrives before RETR 1 is answered.
func servePipelined(ln net.Listener, raws [][]byte) error {
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
	var retrs []int
	say("+OK ready")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("after RETRs %v: %w", retrs, err)
		}
		cmd := strings.TrimRight(line, "\r\n")
		switch verb, arg, _ := strings.Cut(cmd, " "); verb {
		case "CAPA":
			say("+OK", "USER", "UIDL", "PIPELINING", ".")
		case "USER", "PASS":
			say("+OK")
		case "QUIT":
			say("+OK bye")
			return nil
		case "RETR":
			var n int
			fmt.Sscan(arg, &n)
			retrs = append(retrs, n)
			if n == 1 && br.Buffered() == 0 {
				// RETR 2 must come without the client waiting for this reply.
				if _, err := br.Peek(1); err != nil {
					return fmt.Errorf("RETR 2 did not follow RETR 1 before its reply: %w", err)
				}
			}
			say("+OK")
			bw.Write(raws[n-1])
			say(".")
		default:
			say("-ERR unknown " + cmd)
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
	if _, err := c.Capabilities(ctx); err != nil || !c.Pipelining() {
		t.Fatalf("CAPA: %v; pipelining %v", err, c.Pipelining())
	}
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
