package mailbox

import (
	"bufio"
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// greetingServer accepts connections on loopback and hands each to serve
// in order: serve(0, conn) for the first, serve(1, conn) for the second.
func greetingServer(t *testing.T, serve func(i int, conn net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for i := 0; ; i++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				serve(i, conn)
			}()
		}
	}()
	return ln.Addr().String()
}

func plainGreeting(t *testing.T, addr string, quiet time.Duration) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := PlainGreeting(ctx, conn, addr, quiet)
	if err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return line, err
}

func TestPlainGreetingPassesTheGreetingOn(t *testing.T) {
	addr := greetingServer(t, func(_ int, conn net.Conn) { conn.Write([]byte("* OK ready\r\n")) })
	if line, err := plainGreeting(t, addr, 10*time.Second); err != nil || line != "* OK ready\r\n" {
		t.Fatalf("greeting %q, %v", line, err)
	}
}

// A server that starts with a TLS record (an alert, as some TLS servers
// send to a client that speaks first) is a TLS port.
func TestPlainGreetingRecognisesATLSRecord(t *testing.T) {
	addr := greetingServer(t, func(_ int, conn net.Conn) { conn.Write([]byte{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x0a}) })
	if _, err := plainGreeting(t, addr, 10*time.Second); !errors.Is(err, ErrTLSPort) {
		t.Fatalf("got %v, want ErrTLSPort", err)
	}
}

// A plain-text server that is merely slow is waited for: it greets only
// once the probe has found that it speaks no TLS.
func TestPlainGreetingWaitsForASlowPlainServer(t *testing.T) {
	probed := make(chan struct{})
	addr := greetingServer(t, func(i int, conn net.Conn) {
		if i == 1 { // the probe: its ClientHello gets a plain-text answer
			conn.Write([]byte("* BAD this is not TLS\r\n"))
			close(probed)
			return
		}
		<-probed
		conn.Write([]byte("* OK slow\r\n"))
	})
	if line, err := plainGreeting(t, addr, 50*time.Millisecond); err != nil || line != "* OK slow\r\n" {
		t.Fatalf("greeting %q, %v", line, err)
	}
}
