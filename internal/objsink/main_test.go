package objsink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/s3url"
	"mailtask/internal/sink"
	"mailtask/internal/testmail/postgres"
	"mailtask/internal/testmail/seaweedfs"
	"mailtask/internal/testmail/versitygw"
)

func TestMain(m *testing.M) {
	code := m.Run()
	versitygw.StopShared()
	seaweedfs.StopShared()
	postgres.StopShared()
	os.Exit(code)
}

// store is a real S3 server of a harness's, shared by the test binary.
type store interface {
	Client() *s3.Client
	NewBucket(testing.TB) string
}

// eachStore runs test against each S3 server that honours the
// create-only condition, as a subtest named for it: versitygw, whose
// posix backend stores an object as a file, and SeaweedFS, which
// appends objects to volume files; two servers written apart, so that
// what the sink relies on is the protocol, not one server's habits.
func eachStore(t *testing.T, test func(t *testing.T, srv store)) {
	t.Run("versitygw", func(t *testing.T) { test(t, versitygw.Shared(t)) })
	t.Run("seaweedfs", func(t *testing.T) { test(t, seaweedfs.Shared(t)) })
}

// through is srv's client sending its requests through h.
func through(srv store, h s3.HTTPClient) *s3.Client {
	return s3.New(srv.Client().Options(), func(o *s3.Options) { o.HTTPClient = h })
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// target is a bucket of a shared server, opened as a destination.
type target struct {
	srv    store
	bucket string
	dest   *Bucket
}

// openTarget opens s3://<new bucket of versitygw's>/prefix with o's
// sizes and index.
func openTarget(t *testing.T, prefix string, o Options) *target {
	t.Helper()
	return openOn(t, versitygw.Shared(t), prefix, o)
}

// openOn is openTarget on the server srv.
func openOn(t *testing.T, srv store, prefix string, o Options) *target {
	t.Helper()
	bucket := srv.NewBucket(t)
	o.Root = s3url.Scheme + bucket
	if prefix != "" {
		o.Root += "/" + prefix
	}
	o.Client = srv.Client()
	o.SpoolDir = t.TempDir()
	dest, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dest.Close() })
	return &target{srv: srv, bucket: bucket, dest: dest}
}

// reopen opens tg's destination again with o's sizes, as a later run
// does: a destination that has learnt nothing of the bucket yet.
func (tg *target) reopen(t *testing.T, o Options) *target {
	t.Helper()
	o.Root, o.Client, o.SpoolDir = tg.dest.root, tg.srv.Client(), t.TempDir()
	dest, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dest.Close() })
	return &target{srv: tg.srv, bucket: tg.bucket, dest: dest}
}

// put stages content in folder rel and names it name, under p.
func (tg *target) put(t *testing.T, rel, name string, content []byte, p sink.Policy) (sink.Stored, error) {
	t.Helper()
	f, err := tg.dest.Folder(rel)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.Stage(bytes.NewReader(content), p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	if err := tg.dest.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := f.PutStaged(ctx, name, s)
	if err == nil {
		err = tg.dest.Sync(ctx)
	}
	return st, err
}

// keys lists the bucket, as a test may and the sink never does, but
// for the probe's object (probe_test.go looks at that).
func (tg *target) keys(t *testing.T) []string {
	t.Helper()
	out, err := tg.srv.Client().ListObjectsV2(testContext(t), &s3.ListObjectsV2Input{Bucket: aws.String(tg.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		if key := aws.ToString(o.Key); key != ProbeName && !strings.HasSuffix(key, "/"+ProbeName) {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	return keys
}

// get returns an object's content and metadata.
func (tg *target) get(t *testing.T, key string) ([]byte, map[string]string) {
	t.Helper()
	out, err := tg.srv.Client().GetObject(testContext(t), &s3.GetObjectInput{Bucket: aws.String(tg.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data, out.Metadata
}

// rawPut writes an object as another program would: no metadata.
func (tg *target) rawPut(t *testing.T, key string, content []byte) {
	t.Helper()
	_, err := tg.srv.Client().PutObject(testContext(t), &s3.PutObjectInput{
		Bucket: aws.String(tg.bucket), Key: aws.String(key), Body: bytes.NewReader(content)})
	if err != nil {
		t.Fatal(err)
	}
}

// honouring takes b's store to honour the create-only condition, as a
// probe would find, without asking it: for tests of the puts themselves
// against a stand-in for a store, which answers every put alike.
func honouring(b *Bucket) *Bucket {
	b.support = Honoured
	return b
}

func sumOf(b []byte) [32]byte { return sha256.Sum256(b) }

func join(keys []string) string { return strings.Join(keys, ", ") }
