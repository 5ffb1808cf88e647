//go:build unix

package versitygw

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

func TestMain(m *testing.M) { Main(m) }

// The object sink relies on these two behaviours of the server.
func TestCreateOnlyPutIsRefusedWith412AndKeepsMetadata(t *testing.T) {
	s := Shared(t)
	bucket := s.NewBucket(t)
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	put := func(body string) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String("a/b.txt"),
			Body: strings.NewReader(body), IfNoneMatch: aws.String("*"),
			Metadata: map[string]string{"sha256": "first"},
		})
		return err
	}
	if err := put("one"); err != nil {
		t.Fatal(err)
	}
	err := put("two")
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "PreconditionFailed" {
		t.Fatalf("second create-only PUT: %v, want PreconditionFailed", err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/b.txt")})
	if err != nil {
		t.Fatal(err)
	}
	if got := head.Metadata["sha256"]; got != "first" || aws.ToInt64(head.ContentLength) != 3 {
		t.Fatalf("after the refused PUT: metadata %v, length %d; want the first object's", head.Metadata, aws.ToInt64(head.ContentLength))
	}
}

// The tests of a store that ignores the create-only condition rely on
// LegacyVersion's replacing the object, on a single put and on the
// completion of a multipart upload.
func TestLegacyReplacesTheObjectOnACreateOnlyPut(t *testing.T) {
	s := SharedLegacy(t)
	bucket := s.NewBucket(t)
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key := aws.String("a/b.txt")
	get := func() string {
		t.Helper()
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: key})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Body.Close()
		data, err := io.ReadAll(out.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	for _, body := range []string{"one", "two"} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: key, Body: strings.NewReader(body), IfNoneMatch: aws.String("*")})
		if err != nil {
			t.Fatalf("create-only PUT of %q: %v", body, err)
		}
	}
	if got := get(); got != "two" {
		t.Fatalf("after two create-only PUTs the object holds %q, want the second's", got)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: key, UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("three")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: key, UploadId: up.UploadId,
		IfNoneMatch:     aws.String("*"),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: aws.Int32(1)}}}})
	if err != nil {
		t.Fatalf("create-only completion: %v", err)
	}
	if got := get(); got != "three" {
		t.Fatalf("after a create-only completion the object holds %q, want the upload's", got)
	}
}

func TestBucketsAreSeparate(t *testing.T) {
	s := Shared(t)
	a, b := s.NewBucket(t), s.NewBucket(t)
	if a == b {
		t.Fatal("two tests got one bucket")
	}
}

// TestConnectionsAreKeptAlive checks that the server keeps a connection
// open for the next request, as AWS does: the object sink's puts are
// measured against it. It asks three times on one connection of its own
// rather than through an HTTP client, whose reuse of a connection also
// depends on its writer reporting the last request written within 50 ms
// (net/http), which a busy machine misses.
func TestConnectionsAreKeptAlive(t *testing.T) {
	s := Shared(t)
	host := strings.TrimPrefix(s.Endpoint, "http://")
	conn, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	answers := bufio.NewReader(conn)
	for i := 1; i <= 3; i++ {
		if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", healthPath, host); err != nil {
			t.Fatalf("request %d on the connection: %v", i, err)
		}
		resp, err := http.ReadResponse(answers, nil)
		if err != nil {
			t.Fatalf("request %d on the connection: %v; want an answer on the first request's connection", i, err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %s, %v", i, resp.Status, err)
		}
		if resp.Close {
			t.Fatalf("request %d: the server closes the connection after it (Connection: close)", i)
		}
	}
}

// TestMetadataIsKeptInExtendedAttributes checks that, on a filesystem that
// takes them, the server keeps an object's metadata as extended
// attributes of its file, as versitygw does by default, not as a folder
// of sidecar files, which cost each put several files of its own.
func TestMetadataIsKeptInExtendedAttributes(t *testing.T) {
	s := Shared(t)
	if !takesXattrs(t.TempDir()) {
		t.Skip("the temporary directory's filesystem takes no user extended attributes")
	}
	bucket := s.NewBucket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("a/b.txt"), Body: strings.NewReader("one"),
		Metadata: map[string]string{"sha256": "first"},
	})
	if err != nil {
		t.Fatal(err)
	}
	sidecars, err := os.ReadDir(filepath.Join(s.Dir, "meta"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if len(sidecars) > 0 {
		t.Errorf("metadata went to sidecar files under %s: %v", filepath.Join(s.Dir, "meta"), sidecars)
	}
	attrs := make([]byte, 1024)
	n, err := syscall.Listxattr(filepath.Join(s.Dir, "root", bucket, "a", "b.txt"), attrs)
	if err != nil || !strings.Contains(string(attrs[:n]), "user.") {
		t.Errorf("the object's file has no user extended attributes (%q, %v)", attrs[:n], err)
	}
}
