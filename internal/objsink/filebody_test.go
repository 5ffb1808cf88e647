package objsink

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
// Close leaves the file open for a retry; other requests pass unchanged.
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
	for attempt := range 2 {
		req, _ := http.NewRequestWithContext(withFileBody(context.Background(), file), http.MethodPut, "http://127.0.0.1:1/b/k", strings.NewReader("the SDK's reader"))
		c.Do(req)
		if _, ok := next.req.Body.(syscall.Conn); !ok {
			t.Fatalf("attempt %d: body %T, not a file net/http can send with sendfile", attempt, next.req.Body)
		}
		got, err := io.ReadAll(next.req.Body)
		if err != nil || string(got) != "staged content" {
			t.Fatalf("attempt %d: body %q, %v", attempt, got, err)
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
