//go:build linux

package versitygw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The chaos test of cmd/mailtask kills the server under a running
// cluster and relaunches it; the object sink's promise that a later run
// recognises what was written rests on this: a put cut off by SIGKILL in
// the middle of its body leaves nothing under its key (the server writes
// to an unnamed temporary file and links it under the key only once the
// body is whole, with its metadata), and the relaunched server serves,
// on the same address, what it had stored, as does one stopped with
// SIGTERM.
func TestKilledMidPutLeavesNothingAndRelaunchedServesTheRest(t *testing.T) {
	s := Start(t) // its own: it is killed
	bucket := s.NewBucket(t)
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("kept.txt"), Body: strings.NewReader("kept"),
		Metadata: map[string]string{"sha256": "kept"},
	}); err != nil {
		t.Fatal(err)
	}

	// A put whose body stops halfway, held there until the server has
	// begun to write it.
	presigned, err := s3.NewPresignClient(c).PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("torn.bin"), Metadata: map[string]string{"sha256": "torn"},
	})
	if err != nil {
		t.Fatal(err)
	}
	const size = 4 << 20
	body, feed := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, presigned.Method, presigned.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = presigned.SignedHeader.Clone()
	req.ContentLength = size
	sent := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("the server answered %s", resp.Status)
		}
		sent <- err
	}()
	if _, err := feed.Write(bytes.Repeat([]byte("x"), size/2)); err != nil {
		t.Fatal(err)
	}
	staging := filepath.Join(s.Dir, "root", bucket, ".sgwtmp")
	waitFor(t, func() bool { return holdsFileUnder(t, s.PID(), staging) }, "the server never opened a temporary file under "+staging)
	s.Stop()
	feed.CloseWithError(errors.New("the server was killed"))
	if err := <-sent; err == nil {
		t.Fatal("the put cut off by the kill succeeded")
	}

	s.Relaunch(t)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("torn.bin")})
	if !isNotFound(err) {
		t.Errorf("HEAD of the key whose put was cut off by the kill: %v; want 404", err)
	}
	wantOnly(t, c, bucket, "kept.txt", "kept")

	s.Terminate(10 * time.Second)
	s.Relaunch(t)
	wantOnly(t, c, bucket, "kept.txt", "kept")
}

// holdsFileUnder reports whether process pid has a file open below dir.
func holdsFileUnder(t *testing.T, pid int, dir string) bool {
	t.Helper()
	fds := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(fds)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join(fds, e.Name())); err == nil && strings.HasPrefix(target, dir+"/") {
			return true
		}
	}
	return false
}

// wantOnly checks that bucket lists key alone, holding content.
func wantOnly(t *testing.T, c *s3.Client, bucket, key, content string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if len(keys) != 1 || keys[0] != key {
		t.Errorf("the bucket lists %q; want only %q", keys, key)
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	data, err := io.ReadAll(got.Body)
	if err != nil || string(data) != content || got.Metadata["sha256"] != content {
		t.Errorf("%s holds %q (metadata %v, %v); want %q", key, data, got.Metadata, err, content)
	}
}

func isNotFound(err error) bool {
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

// waitFor polls cond until it holds, failing t after a while.
func waitFor(t *testing.T, cond func() bool, failure string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(failure)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
