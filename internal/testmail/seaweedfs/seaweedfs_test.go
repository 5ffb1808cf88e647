//go:build unix

package seaweedfs

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

func TestMain(m *testing.M) { Main(m) }

// The object sink's exactly-once rests on the create-only put: a second
// one is refused with 412 and leaves the first object, its metadata
// with it.
func TestCreateOnlyPutIsRefusedWith412AndKeepsMetadata(t *testing.T) {
	s := Shared(t)
	bucket := s.NewBucket(t)
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	put := func(body, meta string) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String("a/b.txt"),
			Body: strings.NewReader(body), IfNoneMatch: aws.String("*"),
			Metadata: map[string]string{"sha256": meta},
		})
		return err
	}
	if err := put("one", "first"); err != nil {
		t.Fatal(err)
	}
	err := put("two", "second")
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

// Two nodes putting one key at once: exactly one put is taken, whichever
// it is, and the object is that put's, whole.
func TestRacingCreateOnlyPutsTakeExactlyOne(t *testing.T) {
	s := Shared(t)
	bucket := s.NewBucket(t)
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const writers, rounds = 4, 5
	for round := range rounds {
		key := fmt.Sprintf("race/%d.txt", round)
		errs := make([]error, writers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				<-start
				_, errs[i] = c.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String(bucket), Key: aws.String(key), IfNoneMatch: aws.String("*"),
					Body:     strings.NewReader(strings.Repeat(fmt.Sprint(i), 64<<10)),
					Metadata: map[string]string{"writer": fmt.Sprint(i)},
				})
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			var apiErr smithy.APIError
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("%s: writers %d and %d were both taken", key, winner, i)
			case err == nil:
				winner = i
			case !errors.As(err, &apiErr) || (apiErr.ErrorCode() != "PreconditionFailed" && apiErr.ErrorCode() != "ConditionalRequestConflict"):
				t.Fatalf("%s: writer %d: %v; want taken, PreconditionFailed or ConditionalRequestConflict", key, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("%s: no writer was taken: %v", key, errs)
		}
		got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(got.Body)
		got.Body.Close()
		if err != nil || string(data) != strings.Repeat(fmt.Sprint(winner), 64<<10) || got.Metadata["writer"] != fmt.Sprint(winner) {
			t.Fatalf("%s holds %d bytes starting %.8q (metadata %v, %v); want writer %d's", key, len(data), data, got.Metadata, err, winner)
		}
	}
}

// A put's x-amz-checksum-sha256 is checked against the body (a wrong one
// is refused with BadDigest and stores nothing), and kept: HEAD with
// the checksum mode returns it.
func TestChecksumSHA256IsCheckedAndKept(t *testing.T) {
	s := Shared(t)
	bucket := s.NewBucket(t)
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body := "invoice"
	sum := sha256.Sum256([]byte(body))
	other := sha256.Sum256([]byte("another"))
	put := func(key string, checksum [32]byte) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body), IfNoneMatch: aws.String("*"),
			ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(checksum[:])),
		})
		return err
	}
	err := put("wrong.txt", other)
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "BadDigest" {
		t.Fatalf("a put whose checksum is not its body's: %v; want BadDigest", err)
	}
	var notFound *types.NotFound
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("wrong.txt")}); !errors.As(err, &notFound) {
		t.Fatalf("HEAD after the refused put: %v; want 404", err)
	}
	if err := put("right.txt", sum); err != nil {
		t.Fatal(err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("right.txt"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(head.ChecksumSHA256), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Fatalf("HEAD returns x-amz-checksum-sha256 %q; want %q", got, want)
	}
}
