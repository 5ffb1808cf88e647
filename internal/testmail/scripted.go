package testmail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Script is a server's part in a conversation, scripted line by line: a
// broken or hostile server, sending what no real one would (an endless
// greeting, a literal of 99999999999 bytes, UID 4294967295).
type Script struct {
	// Greet writes what the server sends on connecting.
	Greet func(w io.Writer) error
	// Answer writes the server's reply to line, a line the client sent
	// without its line ending; an error (a write the client no longer
	// reads, io.EOF to hang up, ErrReset) ends the connection.
	Answer func(w io.Writer, line string) error
}

// ErrReset, returned by a Script's Answer, ends the connection with a
// reset (RST) rather than a close: what the client reads after the
// reply is "connection reset by peer", as from a server or a load
// balancer that drops the connection.
var ErrReset = errors.New("testmail: reset the connection")

// ScriptedServer plays a Script to each connection, on a loopback port.
type ScriptedServer struct {
	ln     net.Listener
	script Script
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
	sent   atomic.Int64
	lines  []string
}

// StartScripted listens on a loopback port and plays script to whoever
// connects.
func StartScripted(script Script) (*ScriptedServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &ScriptedServer{ln: ln, script: script, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the server's host:port.
func (s *ScriptedServer) Addr() string { return s.ln.Addr().String() }

// Sent returns how many bytes the server has written, over every
// connection: what a client that stops reading early never took.
func (s *ScriptedServer) Sent() int64 { return s.sent.Load() }

// Lines returns the lines clients sent, in order.
func (s *ScriptedServer) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// Close stops listening, drops every connection and waits for them to end.
func (s *ScriptedServer) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *ScriptedServer) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.conns[conn] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(conn)
	}
}

func (s *ScriptedServer) serve(conn net.Conn) {
	defer s.wg.Done()
	defer func() {
		conn.Close()
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
	}()
	w := bufio.NewWriterSize(countingWriter{conn, &s.sent}, 64<<10)
	if s.script.Greet != nil {
		err := s.script.Greet(w)
		if w.Flush() != nil || err != nil {
			return
		}
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.lines = append(s.lines, line)
		s.mu.Unlock()
		err = s.script.Answer(w, line)
		if w.Flush() != nil || err != nil {
			if tcp, ok := conn.(*net.TCPConn); ok && errors.Is(err, ErrReset) {
				_ = tcp.SetLinger(0)
			}
			return
		}
	}
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// Endless writes unit over and over, up to limit bytes in all: a
// server that never ends what it sends, for as long as a test can afford.
func Endless(w io.Writer, unit string, limit int64) error {
	chunk := []byte(strings.Repeat(unit, max(1, (64<<10)/len(unit))))
	for sent := int64(0); sent < limit; sent += int64(len(chunk)) {
		if _, err := w.Write(chunk); err != nil {
			return err
		}
	}
	return nil
}

// Allocated returns how many bytes the process allocated while f ran, in
// every goroutine: what a client under test cost while a scripted server
// sent it what it did. Run no other test in parallel with it.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Literal writes an IMAP literal of size bytes: its announcement, "{size}"
// and CRLF, and size bytes of text lines.
func Literal(w io.Writer, size int64) error {
	if _, err := fmt.Fprintf(w, "{%d}\r\n", size); err != nil {
		return err
	}
	line := strings.Repeat("x", 62) + "\r\n"
	for ; size >= int64(len(line)); size -= int64(len(line)) {
		if _, err := io.WriteString(w, line); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, strings.Repeat("x", int(size)))
	return err
}

// Converse runs f, a client's whole conversation with a scripted server,
// and fails t if f does not return within limit, allocates more than
// maxAlloc bytes meanwhile, or leaves goroutines behind (a protocol
// library's reader spinning on input it cannot leave, say).
func Converse(t testing.TB, limit time.Duration, maxAlloc uint64, f func()) {
	t.Helper()
	base := runtime.NumGoroutine()
	cost := Allocated(func() { Within(t, limit, f) })
	if cost > maxAlloc {
		t.Fatalf("the conversation allocated %d bytes, more than %d", cost, maxAlloc)
	}
	// What f closed ends shortly after it.
	for deadline := time.Now().Add(3 * time.Second); runtime.NumGoroutine() > base && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left behind:\n%s", n-base, buf[:runtime.Stack(buf, true)])
	}
}

// Play is a fuzz test's body: a scripted server plays input (Played, plain
// standing in for what it leaves out) to converse, given the server's
// address, which must end within 20 seconds, allocating at most 32 MB and
// 64 bytes for each byte of input (Converse).
func Play(t testing.TB, input []byte, plain Script, converse func(addr string)) {
	t.Helper()
	srv, err := StartScripted(Played(input, plain))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	Converse(t, 20*time.Second, uint64(32<<20+64*len(input)), func() { converse(srv.Addr()) })
}

// PlayedInput is the input Played plays parts from, by their index.
func PlayedInput(parts map[int]string) []byte {
	var out [][]byte
	for i, part := range parts {
		for len(out) <= i {
			out = append(out, nil)
		}
		out[i] = []byte(part)
	}
	return bytes.Join(out, []byte{0})
}

// Played is the script of a fuzz test: input split at NUL bytes, its
// first part the greeting and the next ones the answers to the client's
// lines in turn, "{tag}" in them standing for the line's first word (an
// IMAP command's tag). An empty part, and lines beyond the parts, get
// plain's greeting or answer.
func Played(input []byte, plain Script) Script {
	parts := bytes.Split(input, []byte{0})
	var lines atomic.Int64 // over every connection: a client may open two
	return Script{
		Greet: func(w io.Writer) error {
			if len(parts[0]) == 0 {
				return plain.Greet(w)
			}
			_, err := w.Write(parts[0])
			return err
		},
		Answer: func(w io.Writer, text string) error {
			line := int(lines.Add(1))
			if line >= len(parts) || len(parts[line]) == 0 {
				return plain.Answer(w, text)
			}
			tag, _, _ := strings.Cut(text, " ")
			_, err := w.Write(bytes.ReplaceAll(parts[line], []byte("{tag}"), []byte(tag)))
			return err
		},
	}
}

// Within runs f and fails t if it does not return within limit: a client
// that loops for ever fails the test rather than hang it (f's goroutine is
// then left running).
func Within(t testing.TB, limit time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("did not return within %s", limit)
	}
}
