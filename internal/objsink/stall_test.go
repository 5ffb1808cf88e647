package objsink

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mailtask/internal/sink"
)

// stalledStore is an S3 endpoint on loopback that answers a HEAD with
// 404 and then, for anything else, reads nothing more and answers
// nothing: a store stopped in the middle of a request.
func stalledStore(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(r)
					if err != nil || req.Method != http.MethodHead {
						<-done
						return
					}
					io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// A store that stops answering fails the request within the stall
// timeout (and the SDK's two retries), whether it stopped reading what
// was sent or stopped replying: the run fails and says so, rather than
// holding its task's lease until the task's timeout without a word.
func TestAStalledStoreFailsTheRequest(t *testing.T) {
	isolateAWSEnv(t)
	for _, tc := range []struct {
		name string
		size int
	}{
		{"no reply to a small put", 1 << 10},
		// Spooled, so sent with sendfile, after a HEAD the store answers;
		// more than the socket buffers of both ends hold.
		{"a large put not read", 48 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, err := NewClient(testContext(t), ClientConfig{Endpoint: stalledStore(t), Region: "us-east-1",
				AccessKeyID: "id", SecretAccessKey: "secret", StallTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			dest, err := Open(Options{Root: "s3://stalled", Client: client, SpoolDir: t.TempDir(), MultipartThreshold: 1 << 30})
			if err != nil {
				t.Fatal(err)
			}
			dest = honouring(dest)
			t.Cleanup(func() { dest.Close() })
			f, err := dest.Folder("")
			if err != nil {
				t.Fatal(err)
			}
			content := make([]byte, tc.size)
			rand.Read(content)
			staged, err := f.Stage(bytes.NewReader(content), sink.Policy{Collision: sink.Suffix})
			if err != nil {
				t.Fatal(err)
			}
			// Far beyond three stall timeouts: without the bound, the put
			// waits for this instead.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err = f.PutStaged(ctx, "a.pdf", staged)
			var stall *StallError
			if !errors.As(err, &stall) {
				t.Fatalf("put to a stalled store: %v, want a stall", err)
			}
		})
	}
}

// readFromRecorder is a connection's ReadFrom that records what it was
// handed.
type readFromRecorder struct {
	net.Conn
	sources []io.Reader
}

func (r *readFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.sources = append(r.sources, src)
	return r.Conn.(io.ReaderFrom).ReadFrom(src)
}

// A body net/http sends through ReadFrom reaches the connection's own
// ReadFrom with the file one *io.LimitedReader away, as sendfile(2) needs
// it, in chunks each under a deadline, and whole.
func TestStallConnSendsFilesWhole(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	received := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			received <- nil
			return
		}
		defer c.Close()
		got, _ := io.ReadAll(c)
		received <- got
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	content := make([]byte, 3*sendChunk+12345)
	rand.Read(content)
	file := filepath.Join(t.TempDir(), "spool")
	if err := os.WriteFile(file, content, 0o600); err != nil {
		t.Fatal(err)
	}
	spool, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	rec := &readFromRecorder{Conn: c}
	conn := &stallConn{Conn: rec, timeout: time.Minute}
	body := &io.LimitedReader{R: spoolBody{spool}, N: int64(len(content) - 100)}
	n, err := conn.ReadFrom(body)
	c.Close()
	if err != nil || n != int64(len(content)-100) || body.N != 0 {
		t.Fatalf("ReadFrom: %d bytes, %v, %d left; want %d, nil, 0", n, err, body.N, len(content)-100)
	}
	if got := <-received; !bytes.Equal(got, content[:len(content)-100]) {
		t.Fatalf("the peer received %d bytes, not the file's first %d", len(got), len(content)-100)
	}
	if len(rec.sources) < 4 {
		t.Fatalf("%d calls of the connection's ReadFrom, want a chunk each (4)", len(rec.sources))
	}
	for _, src := range rec.sources {
		lr, ok := src.(*io.LimitedReader)
		if !ok || lr.R != (spoolBody{spool}) {
			t.Fatalf("the connection's ReadFrom got %T, want the file behind one *io.LimitedReader", src)
		}
	}
}

// A put that failed may leave net/http sending its spool file after it
// returned (a store answers 412 to a create-only put before reading the
// body), so the file is closed rather than kept for the next content.
func TestASpoolFileAPutFailedOnIsNotReused(t *testing.T) {
	isolateAWSEnv(t)
	client, err := NewClient(testContext(t), ClientConfig{Endpoint: stalledStore(t), Region: "us-east-1",
		AccessKeyID: "id", SecretAccessKey: "secret", StallTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	dest, err := Open(Options{Root: "s3://stalled", Client: client, SpoolDir: t.TempDir(), MemoryBudget: 1}) // everything spooled
	if err != nil {
		t.Fatal(err)
	}
	dest = honouring(dest)
	defer dest.Close()
	f, err := dest.Folder("")
	if err != nil {
		t.Fatal(err)
	}
	staged, err := f.Stage(bytes.NewReader([]byte("content")), sink.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.PutStaged(testContext(t), "a.txt", staged); err == nil {
		t.Fatal("a put to a stalled store succeeded")
	}
	if n := len(dest.spares); n != 0 {
		t.Errorf("%d spool files kept after a failed put, want none", n)
	}
}
