package objsink

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/s3url"
	"mailtask/internal/sink"
	"mailtask/internal/testmail/versitygw"
)

// wire is an HTTP client in front of a real S3 server that keeps each
// request's method, path and headers as sent, and, with tamper set,
// changes one byte of each body on its way, as a machine between
// mailtask and a store reached over plain http could.
type wire struct {
	tamper bool
	mu     sync.Mutex
	sent   []*http.Request
}

func (w *wire) Do(r *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.sent = append(w.sent, r.Clone(context.Background()))
	w.mu.Unlock()
	if w.tamper && r.Body != nil && r.ContentLength > 0 {
		data, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		data[len(data)/2] ^= 0x20
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(data))
	}
	return http.DefaultClient.Do(r)
}

// openThrough opens a destination on a new bucket of srv, reached
// through w, its create-only condition taken as honoured, and returns its
// folder "in" and the bucket's name.
func openThrough(t *testing.T, srv store, w *wire) (sink.Folder, string) {
	t.Helper()
	bucket := srv.NewBucket(t)
	b, err := Open(Options{Root: s3url.Scheme + bucket, Client: through(srv, w), SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	f, err := honouring(b).Folder("in")
	if err != nil {
		t.Fatal(err)
	}
	return f, bucket
}

// A file is one request: a create-only PUT whose content the store
// hashes once (UNSIGNED-PAYLOAD: the signature does not cover the
// content, so that the store does not hash it a second time), with its
// SHA-256 in x-amz-checksum-sha256, which the store checks the content
// against, and in x-amz-meta-sha256, which a later run compares; no
// other digest (Content-MD5, a trailing checksum of the SDK's), no
// chunked encoding. The signature covers the checksum and the
// create-only condition: over plain http, neither can be changed or
// dropped on the way without the store refusing the put.
func TestAFileIsOneSignedPutCarryingItsSHA256(t *testing.T) {
	w := &wire{}
	f, bucket := openThrough(t, versitygw.Shared(t), w)
	content := bytes.Repeat([]byte("%PDF-1.7 invoice "), 1000)
	sum := sumOf(content)
	p, err := f.Stage(bytes.NewReader(content), sink.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.PutStaged(testContext(t), "invoice.pdf", p); err != nil {
		t.Fatal(err)
	}
	if len(w.sent) != 1 {
		var got []string
		for _, r := range w.sent {
			got = append(got, r.Method+" "+r.URL.Path)
		}
		t.Fatalf("requests %s; want one PUT", strings.Join(got, ", "))
	}
	r := w.sent[0]
	if got, want := r.Method+" "+r.URL.Path, "PUT /"+bucket+"/in/invoice.pdf"; got != want {
		t.Errorf("request %s, want %s", got, want)
	}
	for name, want := range map[string]string{
		"If-None-Match":                "*",
		"X-Amz-Content-Sha256":         unsignedPayloadHash,
		"X-Amz-Checksum-Sha256":        base64.StdEncoding.EncodeToString(sum[:]),
		"X-Amz-Meta-Sha256":            hex.EncodeToString(sum[:]),
		"Content-Md5":                  "",
		"Content-Encoding":             "",
		"X-Amz-Trailer":                "",
		"X-Amz-Sdk-Checksum-Algorithm": "",
		"X-Amz-Decoded-Content-Length": "",
		"Expect":                       "",
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	signed := signedHeaders(r.Header.Get("Authorization"))
	for _, name := range []string{"if-none-match", "x-amz-checksum-sha256", "x-amz-content-sha256", "x-amz-meta-sha256"} {
		if !slices.Contains(signed, name) {
			t.Errorf("the signature covers %v, not %s", signed, name)
		}
	}
}

// signedHeaders returns the SignedHeaders of a SigV4 Authorization.
func signedHeaders(authorization string) []string {
	_, rest, _ := strings.Cut(authorization, "SignedHeaders=")
	list, _, _ := strings.Cut(rest, ",")
	return strings.Split(list, ";")
}

// Content changed on its way to the store no longer matches the SHA-256
// in the signed checksum header: the store refuses the put (BadDigest)
// and keeps nothing under the key, and the run sees a failure, not a
// file written. This is what makes UNSIGNED-PAYLOAD safe over plain
// http against a store that checks the header, as AWS, MinIO,
// versitygw and SeaweedFS do.
func TestContentChangedOnItsWayIsRefusedByTheStore(t *testing.T) {
	eachStore(t, func(t *testing.T, srv store) {
		f, bucket := openThrough(t, srv, &wire{tamper: true})
		for _, size := range []int{16 << 10, memLimit * 2} { // in memory, and spooled
			p, err := f.Stage(bytes.NewReader(bytes.Repeat([]byte("invoice "), size/8)), sink.Policy{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.PutStaged(testContext(t), "invoice.pdf", p)
			var api interface{ ErrorCode() string }
			if !errors.As(err, &api) || api.ErrorCode() != "BadDigest" {
				t.Fatalf("%d bytes changed on the way: put returned %v; want the store's BadDigest", size, err)
			}
		}
		_, err := srv.Client().HeadObject(testContext(t), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("in/invoice.pdf")})
		if !hasStatus(err, http.StatusNotFound) {
			t.Errorf("HEAD of the key whose content was changed on the way: %v; want 404", err)
		}
	})
}
