package objsink

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/s3url"
	"mailtask/internal/sink"
	"mailtask/internal/testmail/versitygw"
)

// counting is an HTTP client that counts the requests it sends.
type counting struct{ n atomic.Int64 }

func (c *counting) Do(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultClient.Do(r)
}

// countedBucket opens s3://bucket/prefix through a client whose requests
// are counted.
func countedBucket(t *testing.T, srv *versitygw.Server, bucket string) (*Bucket, *counting) {
	t.Helper()
	c := &counting{}
	client := s3.New(s3.Options{
		Region: versitygw.Region, BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true, HTTPClient: c,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKeyID, srv.SecretAccessKey, ""),
	})
	b, err := Open(Options{Root: s3url.Scheme + bucket + "/in", Client: client, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, c
}

func putNamed(t *testing.T, b *Bucket, name string, content []byte) sink.Stored {
	t.Helper()
	f, err := b.Folder("acme")
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Stage(strings.NewReader(string(content)), sink.Policy{Collision: sink.Suffix})
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.PutStaged(testContext(t), name, p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestManySameNamedObjectsCostEachAFewRequests(t *testing.T) {
	const files = 120
	srv := versitygw.Shared(t)
	bucket := srv.NewBucket(t)
	contents := make([][]byte, files)
	for i := range contents {
		contents[i] = fmt.Appendf(nil, "%%PDF invoice number %d", i)
	}

	b, c := countedBucket(t, srv, bucket)
	names := map[string]bool{}
	for i, content := range contents {
		st := putNamed(t, b, "invoice.pdf", content)
		if st.Existing || names[st.Name] || st.Name != sink.Candidate("invoice.pdf", i) {
			t.Fatalf("file %d named %q (existing %v), want %q", i, st.Name, st.Existing, sink.Candidate("invoice.pdf", i))
		}
		names[st.Name] = true
	}
	// Searching from "invoice.pdf" up for each would cost about
	// files²/2 puts and looks.
	if n := c.n.Load(); n > 2*files {
		t.Errorf("%d requests to name %d same-named files, want at most %d", n, files, 2*files)
	}

	// A re-run, in another order, by a node that has learnt nothing yet,
	// finds every file where it went.
	b, c = countedBucket(t, srv, bucket)
	for _, i := range rand.Perm(files) {
		st := putNamed(t, b, "invoice.pdf", contents[i])
		if !st.Existing || st.Name != sink.Candidate("invoice.pdf", i) {
			t.Fatalf("re-run of file %d: %q (existing %v)", i, st.Name, st.Existing)
		}
	}
	if n := c.n.Load(); n > 6*files {
		t.Errorf("%d requests to find %d same-named files again, want at most %d", n, files, 6*files)
	}
}

func TestPastTheLastNumberedObjectTheContentsHashNamesIt(t *testing.T) {
	defer func(n int) { maxSuffix = n }(maxSuffix)
	maxSuffix = 2
	srv := versitygw.Shared(t)
	bucket := srv.NewBucket(t)
	b, _ := countedBucket(t, srv, bucket)
	var got []string
	for i := range 5 {
		got = append(got, putNamed(t, b, "scan.pdf", fmt.Appendf(nil, "scan %d", i)).Name)
	}
	for i, name := range got {
		want := sink.Candidate("scan.pdf", i)
		if i > maxSuffix {
			want = sink.HashedName("scan.pdf", sumOf(fmt.Appendf(nil, "scan %d", i)), 12)
		}
		if name != want {
			t.Errorf("file %d named %q, want %q", i, name, want)
		}
	}
	again, _ := countedBucket(t, srv, bucket)
	if st := putNamed(t, again, "scan.pdf", []byte("scan 4")); !st.Existing || st.Name != got[4] {
		t.Fatalf("re-run of a file named by its hash: %+v, want %q existing", st, got[4])
	}
}
