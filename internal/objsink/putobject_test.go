package objsink

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"mailtask/internal/s3url"
	"mailtask/internal/sink"
	"mailtask/internal/testmail/versitygw"
	"mailtask/internal/version"
)

// scriptedStore is an HTTP client standing for a store: it answers the
// PUTs it is sent with the statuses of its script, in turn (200 once the
// script is done), an S3 error document with each refusal, and keeps
// each request's body as it was handed over, with what it read of it.
type scriptedStore struct {
	script []int
	mu     sync.Mutex
	bodies []io.Reader
	read   []string
}

func (c *scriptedStore) Do(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	n := len(c.bodies)
	c.bodies, c.read = append(c.bodies, req.Body), append(c.read, string(data))
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: req}
	if n < len(c.script) && c.script[n] != http.StatusOK {
		code := strings.ReplaceAll(http.StatusText(c.script[n]), " ", "")
		resp.StatusCode = c.script[n]
		resp.Body = io.NopCloser(strings.NewReader(fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>refused</Message><RequestId>r%d</RequestId></Error>`, code, n)))
	}
	return resp, nil
}

// scriptedBucket opens s3://scripted through store, with the SDK's
// standard retryer but a short backoff.
func scriptedBucket(t *testing.T, store *scriptedStore, memoryBudget int64) *Bucket {
	t.Helper()
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), UsePathStyle: true, HTTPClient: store,
		Credentials: credentials.NewStaticCredentialsProvider("id", "secret", ""),
		Retryer:     retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = time.Millisecond }),
	})
	b, err := Open(Options{Root: "s3://scripted", Client: client, SpoolDir: t.TempDir(), MemoryBudget: memoryBudget})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return honouring(b)
}

// A put is tried again as the SDK's standard retryer says: a store's
// 5xx up to three attempts in all, a refusal of the request itself
// (wrong secret, no bucket, key taken) not at all; and a failure is the
// SDK's error, an S3 operation error carrying the API error's code and
// the HTTP status, which the hints of package diagnose and the
// create-only logic read.
func TestPutsAreTriedAgainAndRefusedAsTheSDKDoes(t *testing.T) {
	for _, tc := range []struct {
		script []int
		puts   int
		code   string // "" for success
	}{
		{[]int{503, 500, 200}, 3, ""},
		{[]int{503, 503, 503}, 3, "ServiceUnavailable"},
		{[]int{403}, 1, "Forbidden"},
		{[]int{404}, 1, "NotFound"},
		{[]int{412}, 1, "PreconditionFailed"},
	} {
		store := &scriptedStore{script: tc.script}
		b := scriptedBucket(t, store, 0)
		f, _ := b.Folder("")
		p, err := f.Stage(strings.NewReader("content"), sink.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		err = b.upload(testContext(t), "a.txt", p.(*staged), true)
		p.Discard()
		if len(store.read) != tc.puts {
			t.Errorf("%v: %d puts, want %d", tc.script, len(store.read), tc.puts)
		}
		for i, got := range store.read {
			if got != "content" {
				t.Errorf("%v: attempt %d sent %q", tc.script, i+1, got)
			}
		}
		if tc.code == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.script, err)
			}
			continue
		}
		var op *smithy.OperationError
		var api smithy.APIError
		if !errors.As(err, &op) || op.ServiceID != "S3" || !errors.As(err, &api) || api.ErrorCode() != tc.code ||
			!hasStatus(err, tc.script[len(tc.script)-1]) {
			t.Errorf("%v: error %v (%T), want an S3 operation error with code %s and status %d", tc.script, err, err, tc.code, tc.script[len(tc.script)-1])
		}
	}
}

// A put of spooled content hands net/http the file itself, from its
// start, as something it can sendfile(2) from (a syscall.Conn), whose
// Close leaves the file open; a retry sends a reader of its own, since
// the first attempt may still be moving the file's offset; and the
// file, perhaps still being sent, is then closed rather than kept for
// the next content.
func TestPutOfSpooledContentSendsTheFile(t *testing.T) {
	store := &scriptedStore{script: []int{503}}
	b := scriptedBucket(t, store, 1) // everything spooled
	f, _ := b.Folder("")
	p, err := f.Stage(strings.NewReader("staged content"), sink.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.PutStaged(testContext(t), "a.txt", p); err != nil {
		t.Fatal(err)
	}
	if len(store.bodies) != 2 {
		t.Fatalf("%d attempts, want a refused one and its retry", len(store.bodies))
	}
	for attempt, body := range store.bodies {
		if _, ok := body.(syscall.Conn); ok != (attempt == 0) {
			t.Errorf("attempt %d: body %T", attempt+1, body)
		}
		if store.read[attempt] != "staged content" {
			t.Errorf("attempt %d sent %q", attempt+1, store.read[attempt])
		}
	}
	if file := store.bodies[0].(spoolBody).File; file.Close() == nil {
		t.Error("the spool file was left open")
	}
	if n := len(b.spares); n != 0 {
		t.Errorf("%d spool files kept after a put sent twice, want none", n)
	}
}

// storeThroughClient opens the destination root on store, an S3 server
// of the test's, through the client mailtask builds, its create-only
// condition taken as honoured, and returns it with its top folder; a
// memoryBudget of 0 is the default's. t.Cleanup closes it.
func storeThroughClient(t *testing.T, store *httptest.Server, root string, memoryBudget int64) (*Bucket, sink.Folder) {
	t.Helper()
	client, err := NewClient(testContext(t), ClientConfig{Endpoint: store.URL, Region: "us-east-1", AccessKeyID: "id", SecretAccessKey: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	dest, err := Open(Options{Root: root, Client: client, SpoolDir: t.TempDir(), MemoryBudget: memoryBudget})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dest.Close() })
	f, err := honouring(dest).Folder("")
	if err != nil {
		t.Fatal(err)
	}
	return dest, f
}

// A put that succeeded only when tried again leaves its spool file
// closed, not kept: the first attempt, which sent the file itself, may
// still be sending it. Through net/http and the client mailtask builds.
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
	dest, f := storeThroughClient(t, store, "s3://retried", 1) // everything spooled
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

// Through the client mailtask builds, spooled content arrives whole,
// also when it is large enough for the put to wait for the store's
// 100 Continue.
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
	big := bytes.Repeat([]byte("0123456789abcdef"), (continueAbove+1000)/16)
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

// A name with characters S3 keys escape is put, signed and found again
// under that very key: the put escapes the key as the SDK does, and
// signs what it sends (the store checks the signature).
func TestOddNamesArePutUnderTheirKey(t *testing.T) {
	tg := openTarget(t, "in box", Options{})
	const name = "Rechnung 2024+1 (Kopie) ä%~.pdf"
	if _, err := tg.put(t, "a+b", name, invoiceA, sink.Policy{}); err != nil {
		t.Fatal(err)
	}
	if keys := tg.keys(t); join(keys) != "in box/a+b/"+name {
		t.Fatalf("bucket holds %q", keys)
	}
	if data, meta := tg.get(t, "in box/a+b/"+name); !bytes.Equal(data, invoiceA) || meta[SHA256Metadata] == "" {
		t.Fatalf("object of %d bytes, metadata %v", len(data), meta)
	}
}

// clientFunc is an HTTP client made of a function.
type clientFunc func(*http.Request) (*http.Response, error)

func (f clientFunc) Do(req *http.Request) (*http.Response, error) { return f(req) }

// A store whose clock is an hour ahead refuses a put signed by this
// machine's clock; the put is tried again, signed by the store's clock
// as its reply's Date gives it, and so are the puts after it.
func TestAPutSignedByAClockThatIsOffIsSignedAgainByTheStores(t *testing.T) {
	storeClock := time.Now().Add(time.Hour)
	var signedAt []time.Time
	store := clientFunc(func(req *http.Request) (*http.Response, error) {
		io.Copy(io.Discard, req.Body)
		at, err := time.Parse("20060102T150405Z", req.Header.Get("X-Amz-Date"))
		if err != nil {
			t.Fatal(err)
		}
		signedAt = append(signedAt, at)
		resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Date": {storeClock.UTC().Format(http.TimeFormat)}}, Body: http.NoBody, Request: req}
		if at.Sub(storeClock).Abs() > 15*time.Minute {
			resp.StatusCode = http.StatusForbidden
			resp.Body = io.NopCloser(strings.NewReader(`<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message></Error>`))
		}
		return resp, nil
	})
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), UsePathStyle: true, HTTPClient: store,
		Credentials: credentials.NewStaticCredentialsProvider("id", "secret", ""),
		Retryer:     retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = time.Millisecond }),
	})
	b, err := Open(Options{Root: "s3://skewed", Client: client, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b = honouring(b)
	defer b.Close()
	f, _ := b.Folder("")
	for _, name := range []string{"a.txt", "b.txt"} {
		p, err := f.Stage(strings.NewReader(name), sink.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.PutStaged(testContext(t), name, p); err != nil {
			t.Fatal(err)
		}
	}
	if len(signedAt) != 3 {
		t.Fatalf("%d requests, want a refused one, its retry and the next put", len(signedAt))
	}
	for i, at := range signedAt[1:] {
		if off := at.Sub(storeClock).Abs(); off > time.Minute {
			t.Errorf("request %d signed %s off the store's clock", i+2, off)
		}
	}
}

// A store that answers a put with a body that goes on and on costs the
// connection, not the run: the put reads no more of it than an S3 reply
// is long.
func TestAnEndlessReplyToAPutIsNotReadToItsEnd(t *testing.T) {
	isolateAWSEnv(t)
	const endless = 256 << 20 // as good as endless, and the test ends either way
	sent := make(chan int, 1)
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		chunk := make([]byte, 32<<10)
		n := 0
		for n < endless {
			k, err := w.Write(chunk)
			n += k
			if err != nil {
				break
			}
		}
		sent <- n
	}))
	defer store.Close()
	_, f := storeThroughClient(t, store, "s3://endless", 0)
	p, err := f.Stage(strings.NewReader("content"), sink.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.PutStaged(testContext(t), "a.txt", p); err != nil {
		t.Fatal(err)
	}
	// What the kernel's buffers took before the connection closed is
	// sent too: a few MB at most on loopback.
	if n := <-sent; n >= endless {
		t.Fatalf("the put read the store's reply of %d bytes to its end", n)
	}
}

// Every request to the store says it is mailtask's, and which: a put
// made here as version.UserAgent, the SDK's own requests (a HEAD before a
// put of a large file) with it as their application's ID, so that the
// store's access log tells mailtask's requests from others'.
func TestRequestsSayTheyAreMailtasks(t *testing.T) {
	isolateAWSEnv(t)
	var mu sync.Mutex
	agents := map[string]string{} // by method
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		agents[r.Method] = r.Header.Get("User-Agent")
		mu.Unlock()
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("ETag", `"etag"`)
	}))
	defer store.Close()
	_, f := storeThroughClient(t, store, "s3://agents", 0)
	p, err := f.Stage(bytes.NewReader(make([]byte, headFirst+1)), sink.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.PutStaged(testContext(t), "large.bin", p); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := agents[http.MethodPut]; got != version.UserAgent() {
		t.Errorf("the put's User-Agent is %q, want %q", got, version.UserAgent())
	}
	if got := agents[http.MethodHead]; !strings.Contains(got, "app/mailtask-"+version.String()) {
		t.Errorf("the HEAD's User-Agent %q does not name mailtask and its version as the application", got)
	}
}
