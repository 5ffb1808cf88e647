package objsink

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"mailtask/internal/s3url"
	"mailtask/internal/sink"
	"mailtask/internal/testmail/versitygw"
)

// takeRequest is an HTTP client that keeps the request it is given.
type takeRequest struct{ req *http.Request }

func (c *takeRequest) Do(req *http.Request) (*http.Response, error) {
	c.req = req
	return nil, io.EOF
}

// A put of spooled content hands net/http the file itself, from its
// start, as something it can sendfile(2) from (a syscall.Conn), whose
// Close leaves the file open; a retry of the put sends the SDK's reader,
// since the first attempt may still be moving the file's offset; other
// requests pass unchanged.
func TestPutOfSpooledContentSendsTheFile(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "spool"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if _, err := file.WriteString("staged content"); err != nil { // the offset is at its end now
		t.Fatal(err)
	}
	next := &takeRequest{}
	c := fileBodies{next: next}
	ctx := withFileBody(context.Background(), &fileBody{file: file})
	for attempt, want := range []string{"staged content", "the SDK's reader"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://127.0.0.1:1/b/k", strings.NewReader("the SDK's reader"))
		c.Do(req)
		if _, ok := next.req.Body.(syscall.Conn); ok != (attempt == 0) {
			t.Fatalf("attempt %d: body %T", attempt, next.req.Body)
		}
		got, err := io.ReadAll(next.req.Body)
		if err != nil || string(got) != want {
			t.Fatalf("attempt %d: body %q, %v; want %q", attempt, got, err, want)
		}
		next.req.Body.Close()
	}
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:1/b/k", strings.NewReader("in memory"))
	c.Do(req)
	if got, _ := io.ReadAll(next.req.Body); string(got) != "in memory" {
		t.Fatalf("a put without a file sent %q", got)
	}
}

// Through the client mailtask builds, spooled content arrives whole.
func TestSpooledContentArrivesThroughTheClient(t *testing.T) {
	srv := versitygw.Shared(t)
	ctx := testContext(t)
	client, err := NewClient(ctx, ClientConfig{Endpoint: srv.Endpoint, Region: versitygw.Region,
		AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	bucket := srv.NewBucket(t)
	dest, err := Open(Options{Root: s3url.Scheme + bucket, Client: client, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	f, _ := dest.Folder("")
	big := bytes.Repeat([]byte("0123456789abcdef"), (memLimit+1000)/16)
	p, err := f.Stage(bytes.NewReader(big), sink.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if p.(*staged).file == nil {
		t.Fatal("content not spooled")
	}
	if _, err := f.PutStaged(ctx, "big.bin", p); err != nil {
		t.Fatal(err)
	}
	tg := &target{srv: srv, bucket: bucket, dest: dest}
	if data, _ := tg.get(t, "big.bin"); !bytes.Equal(data, big) {
		t.Fatalf("object of %d bytes, want the %d staged", len(data), len(big))
	}
}

// A put that succeeded only when the SDK tried again leaves its spool
// file closed, not kept: the first attempt, which sent the file itself,
// may still be sending it.
func TestASpoolFileSentTwiceIsNotReused(t *testing.T) {
	isolateAWSEnv(t)
	var puts atomic.Int32
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if puts.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("ETag", `"etag"`)
	}))
	defer store.Close()
	client, err := NewClient(testContext(t), ClientConfig{Endpoint: store.URL, Region: "us-east-1", AccessKeyID: "id", SecretAccessKey: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	dest, err := Open(Options{Root: "s3://retried", Client: client, SpoolDir: t.TempDir(), MemoryBudget: 1}) // everything spooled
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	f, _ := dest.Folder("")
	p, err := f.Stage(strings.NewReader("content"), sink.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.PutStaged(testContext(t), "a.txt", p); err != nil {
		t.Fatal(err)
	}
	if n := puts.Load(); n != 2 {
		t.Fatalf("%d puts, want a refused one and its retry", n)
	}
	if n := len(dest.spares); n != 0 {
		t.Errorf("%d spool files kept after a put sent twice, want none", n)
	}
}
