package objsink

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"mailtask/internal/sink"
)

// SHA256Metadata is the user metadata key (x-amz-meta-sha256) holding the
// hex SHA-256 of an object's content: what tells a re-run's identical
// object from a different one under the same key.
const SHA256Metadata = "sha256"

// headFirst is the size above which PutStaged asks whether a key is taken
// before sending content to it: a refused put of a large file would have
// sent it for nothing.
const headFirst = 1 << 20

// createAttempts bounds the tries at one key whose object keeps changing
// (deleted or written again between our put and our look at it).
const createAttempts = 5

// PutStaged uploads content Stage returned under name, create-only, and
// releases it whatever the outcome. Identical content already under the
// key is reported as Existing; different content meets the policy's
// Collision; with Dedupe, content the index knows under the destination
// is reported as Duplicate and not uploaded again.
func (f *folder) PutStaged(ctx context.Context, name string, p sink.Pending) (sink.Stored, error) {
	defer p.Discard()
	s, ok := p.(*staged)
	if !ok || s.f.b != f.b {
		return sink.Stored{}, fmt.Errorf("write %q in %s: content staged in another destination", name, f.Path())
	}
	if err := sink.CheckName(name); err != nil {
		return sink.Stored{}, fmt.Errorf("write %q in %s: %w", name, f.Path(), err)
	}
	st, err := f.put(ctx, name, s)
	if err != nil {
		return sink.Stored{}, fmt.Errorf("write %q in %s: %w", name, f.Path(), err)
	}
	return st, nil
}

func (f *folder) put(ctx context.Context, name string, s *staged) (sink.Stored, error) {
	b := f.b
	st := sink.Stored{Size: s.size, SHA256: s.sum, Dir: f.rel}
	if s.p.Dedupe {
		if b.index == nil {
			return st, errors.New("dedupe on an object store needs the dedupe index of cluster mode's state_store")
		}
		same, found, err := b.holds(ctx, b.key(f.relOf(name)), s)
		if err != nil {
			return st, err
		}
		if found && same {
			st.Name, st.Existing = name, true
			return st, b.index.Record(ctx, s.sum, b.key(f.relOf(name)))
		}
		if st.Duplicate, err = b.duplicate(ctx, s); err != nil || st.Duplicate != "" {
			return st, err
		}
	}
	st, err := f.place(ctx, name, s, st)
	if err == nil && s.p.Dedupe && !st.Skipped {
		err = b.index.Record(ctx, s.sum, b.key(st.Rel()))
	}
	return st, err
}

// place puts the content under name or, as the policy says, another name,
// or nowhere.
func (f *folder) place(ctx context.Context, name string, s *staged, st sink.Stored) (sink.Stored, error) {
	b := f.b
	if s.p.Collision == sink.Suffix {
		return f.placeSuffixed(ctx, name, s, st)
	}
	got, _, err := b.create(ctx, f.relOf(name), s)
	if err != nil {
		return st, err
	}
	st.Name = name
	if got != taken {
		st.Existing = got == existing
		return st, nil
	}
	switch s.p.Collision {
	case sink.Skip:
		st.Skipped = true
		return st, nil
	case sink.Fail:
		return st, fmt.Errorf("%w (on_collision = \"fail\")", sink.ErrCollision)
	}
	// Overwrite: an unconditional put replaces the object at once.
	if err := b.upload(ctx, b.key(f.relOf(name)), s, false); err != nil {
		return st, err
	}
	st.Replaced = true
	return st, nil
}

// outcome is what a create-only put found.
type outcome int

const (
	placed   outcome = iota // the object is ours, new
	existing                // the key held identical content already
	taken                   // the key holds different content
)

// create puts the content under rel unless the key exists, and tells
// what it found there: when it was taken, what is known of the object
// that took it. On a store that does not honour the create-only
// condition, and with CheckFirst, it looks at the key first and puts
// without the condition: what was found taken is decided as a refused
// put's would be.
func (b *Bucket) create(ctx context.Context, rel string, s *staged) (outcome, object, error) {
	key := b.key(rel)
	if len(key) > maxKeyLen {
		return 0, object{}, &KeyTooLongError{Key: key}
	}
	unconditional, err := b.unconditional(ctx, s.size > b.mpAbove)
	if err != nil {
		return 0, object{}, err
	}
	for range createAttempts {
		if s.size > headFirst || unconditional {
			o, err := b.look(ctx, key, s)
			if err != nil {
				return 0, o, err
			}
			if o.found {
				return o.outcome(s), o, nil
			}
		}
		err := b.upload(ctx, key, s, !unconditional)
		if err == nil {
			return placed, object{}, nil
		}
		if hasStatus(err, http.StatusConflict) {
			continue // another writer's conditional put of this key was in flight
		}
		if !hasStatus(err, http.StatusPreconditionFailed) {
			return 0, object{}, err
		}
		o, err := b.look(ctx, key, s)
		if err != nil {
			return 0, o, err
		}
		if o.found {
			return o.outcome(s), o, nil
		}
		// Deleted since it refused us: try again.
	}
	return 0, object{}, fmt.Errorf("the object %s kept changing while it was written; try again", key)
}

// object is what a look at a key found.
type object struct {
	found bool
	size  int64
	// sum is the object's SHA-256 when known: from its metadata or
	// checksum, or read when it had the size of the content compared.
	sum    [32]byte
	summed bool
}

// outcome is what an object found at a key means for content s.
func (o object) outcome(s *staged) outcome {
	if o.size == s.size && o.summed && o.sum == s.sum {
		return existing
	}
	return taken
}

// holds reports whether key exists (found) and holds exactly s's content
// (same).
func (b *Bucket) holds(ctx context.Context, key string, s *staged) (same, found bool, err error) {
	o, err := b.look(ctx, key, s)
	return o.found && o.outcome(s) == existing, o.found, err
}

// look finds out what key holds: its size and SHA-256, by the SHA-256 in
// its metadata, or in its checksum, or, for an object of s's size that
// has neither, by reading it.
func (b *Bucket) look(ctx context.Context, key string, s *staged) (object, error) {
	head, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled,
	})
	if hasStatus(err, http.StatusNotFound) {
		return object{}, nil
	}
	if err != nil {
		return object{}, fmt.Errorf("look at %s: %w", key, err)
	}
	o := object{found: true, size: aws.ToInt64(head.ContentLength)}
	if sum, ok := head.Metadata[SHA256Metadata]; ok {
		got, err := hex.DecodeString(sum)
		o.summed = err == nil && len(got) == len(o.sum)
		copy(o.sum[:], got)
		return o, nil
	}
	if sum := aws.ToString(head.ChecksumSHA256); sum != "" && head.ChecksumType != types.ChecksumTypeComposite {
		got, err := base64.StdEncoding.DecodeString(sum)
		o.summed = err == nil && len(got) == len(o.sum)
		copy(o.sum[:], got)
		return o, nil
	}
	if o.size != s.size {
		return o, nil
	}
	// Written by something else: read it.
	got, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
	if hasStatus(err, http.StatusNotFound) {
		return object{}, nil
	}
	if err != nil {
		return object{}, fmt.Errorf("read %s: %w", key, err)
	}
	defer got.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, got.Body); err != nil {
		return object{}, fmt.Errorf("read %s: %w", key, err)
	}
	h.Sum(o.sum[:0])
	o.summed = true
	return o, nil
}

// duplicate returns the path below the destination of an object the index
// knows to hold s's content, "" if none. An entry whose object is gone or
// changed is dropped.
func (b *Bucket) duplicate(ctx context.Context, s *staged) (string, error) {
	key, err := b.index.Lookup(ctx, s.sum)
	if err != nil || key == "" {
		return "", err
	}
	same, found, err := b.holds(ctx, key, s)
	if err != nil {
		return "", err
	}
	if found && same {
		return b.rel(key), nil
	}
	return "", b.index.Forget(ctx, s.sum, key)
}

// upload puts s under key, create-only if asked; large content goes up in
// parts.
func (b *Bucket) upload(ctx context.Context, key string, s *staged, createOnly bool) error {
	if s.size > b.mpAbove {
		return b.uploadParts(ctx, key, s, createOnly)
	}
	if err := b.puts.put(ctx, key, s, createOnly); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// abortTimeout bounds the abort of a failed multipart upload, which runs
// even when the run's context has ended.
const abortTimeout = 30 * time.Second

// uploadParts puts s under key in parts. The create-only condition is on
// CompleteMultipartUpload, so a refused upload leaves nothing under key;
// it is aborted, as is one that fails, so that its parts do not linger.
func (b *Bucket) uploadParts(ctx context.Context, key string, s *staged, createOnly bool) (err error) {
	created, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(b.bucket), Key: aws.String(key), ContentType: aws.String(contentType(key)),
		Metadata: map[string]string{SHA256Metadata: hex.EncodeToString(s.sum[:])},
	})
	if err != nil {
		return fmt.Errorf("start the upload of %s: %w", key, err)
	}
	defer func() {
		if err == nil {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		b.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(b.bucket), Key: aws.String(key), UploadId: created.UploadId,
		})
	}()
	partSize := max(b.partSize, (s.size+maxParts-1)/maxParts)
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < s.size; off, n = off+partSize, n+1 {
		size := min(partSize, s.size-off)
		up, err := b.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(b.bucket), Key: aws.String(key), UploadId: created.UploadId,
			PartNumber: aws.Int32(n), Body: s.section(off, size), ContentLength: aws.Int64(size),
		})
		if err != nil {
			return fmt.Errorf("upload part %d of %s: %w", n, key, err)
		}
		parts = append(parts, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(n)})
	}
	in := &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(b.bucket), Key: aws.String(key), UploadId: created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if createOnly {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := b.client.CompleteMultipartUpload(ctx, in); err != nil {
		return fmt.Errorf("complete the upload of %s: %w", key, err)
	}
	return nil
}

// contentType guesses an object's media type from its name, for whoever
// downloads it.
func contentType(key string) string {
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// hasStatus reports whether err is an HTTP reply with that status.
func hasStatus(err error, status int) bool {
	var re interface{ HTTPStatusCode() int }
	return err != nil && errors.As(err, &re) && re.HTTPStatusCode() == status
}
