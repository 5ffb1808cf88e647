package metrics

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// within bounds every wait of these tests.
const within = 20 * time.Second

func serveHealthy(t *testing.T, limits Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := Serve(ln, New().Handler(func() []string { return nil }), limits)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, within)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get asks for /healthz on c, keeping the connection alive, and reads the
// answer's status line.
func get(t *testing.T, c net.Conn, r *bufio.Reader) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(within))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: probe\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Status
}

// closedByServer waits for the server to close c.
func closedByServer(t *testing.T, c net.Conn, r *bufio.Reader, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	_, err := r.ReadByte()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: the server kept the connection %s", what, within)
	}
	if err == nil {
		t.Fatalf("%s: the server sent something unasked", what)
	}
}

func TestIdleAndSilentConnectionsAreClosed(t *testing.T) {
	limits := DefaultLimits
	limits.Idle, limits.ReadHeader = 100*time.Millisecond, 100*time.Millisecond
	addr := serveHealthy(t, limits)

	keptAlive := dial(t, addr)
	r := bufio.NewReader(keptAlive)
	if status := get(t, keptAlive, r); !strings.HasPrefix(status, "200") {
		t.Fatalf("status %q", status)
	}
	closedByServer(t, keptAlive, r, "an idle keep-alive connection")

	silent := dial(t, addr)
	io.WriteString(silent, "GET /metrics HTTP/1.1\r\n") // and never the rest of the header
	closedByServer(t, silent, bufio.NewReader(silent), "a connection that never finishes its header")
}

func TestConnectionsBeyondTheLimitWait(t *testing.T) {
	limits := DefaultLimits
	limits.MaxConns = 2
	addr := serveHealthy(t, limits)
	// Two connections that say nothing hold both places.
	first := dial(t, addr)
	dial(t, addr)
	third := dial(t, addr)
	r := bufio.NewReader(third)
	io.WriteString(third, "GET /healthz HTTP/1.1\r\nHost: probe\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := r.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a third connection was served while two held the limit (err %v)", err)
	}
	first.Close() // a place frees up: the third is served
	third.SetReadDeadline(time.Now().Add(within))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %q", resp.Status)
	}
}
