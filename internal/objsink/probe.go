package objsink

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/s3url"
)

// Support is what a store does with the create-only condition of a put
// (If-None-Match: *), as a probe found it.
type Support int

const (
	// Honoured: a put to a key that exists is refused (412).
	Honoured Support = iota + 1
	// Ignored: a put to a key that exists replaces its object, as
	// versitygw v1.0.14 does, and other S3 servers' older releases.
	Ignored
	// Refused: every put carrying the condition is refused (400, 501).
	Refused
)

func (s Support) String() string {
	switch s {
	case Honoured:
		return "honours"
	case Ignored:
		return "ignores"
	case Refused:
		return "refuses"
	}
	return fmt.Sprintf("Support(%d)", int(s))
}

// CreateOnly is what a destination does where the store does not honour
// the create-only condition: s3_create_only.
type CreateOnly int

const (
	// Require writes nothing there: a put would replace an object of the
	// same key, another file of that name, unseen.
	Require CreateOnly = iota
	// CheckFirst looks at each key (HEAD) before writing to it without
	// the condition. Two writers of one key at once may still both find
	// it free, and the last one's object stays.
	CheckFirst
)

// ProbeName is the object, below a destination's root, whose create-only
// puts tell what the store does with the condition. Its content is the
// same every time, so that a store replacing it changes nothing.
const ProbeName = "_mailtask/create-only-probe"

var probeContent = []byte("mailtask writes this object to find out whether the store honours If-None-Match: * (README: Running on many machines, Files)\n")

// Probes is what a process has learnt of its stores' support of the
// create-only condition, by endpoint and destination root, shared by the
// destinations it opens: a store found to honour it is not asked again.
// One found not to is asked again by the next destination opened (the
// next run), so that a store upgraded meanwhile is written to without a
// restart. The zero value is ready to use.
type Probes struct {
	mu       sync.Mutex
	honoured map[string]bool
}

func (p *Probes) known(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.honoured[id]
}

func (p *Probes) learn(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.honoured == nil {
		p.honoured = map[string]bool{}
	}
	p.honoured[id] = true
}

// Probe finds out what the store of client does with the create-only
// condition at root (s3://bucket/prefix), by create-only puts of
// ProbeName below it: a refused first put proves it honoured, which is
// one request once the object exists; a first put taken is followed by a
// second, which only a store ignoring the condition takes too. Nodes
// probing at once each find the same: one of them creates the object,
// and every other put is refused. A put refused for the condition (400,
// 501) is tried once without it: if that is taken, the store refuses the
// condition; if not, its error is the answer. A store honouring the
// condition on puts is then probed on the completion of multipart
// uploads (probeParts); parts is 0 if it was not. With Require, a store
// that does not honour the condition is also a CreateOnlyError.
func Probe(ctx context.Context, client *s3.Client, root string, mode CreateOnly) (puts, parts Support, err error) {
	bucket, prefix, err := s3url.Parse(root)
	if err != nil {
		return 0, 0, err
	}
	b := &Bucket{root: root, bucket: bucket, prefix: prefix, client: client, puts: newPutter(client, bucket),
		partSize: DefaultPartSize, createOnly: mode, probes: &Probes{}}
	_, err = b.unconditional(ctx, true)
	return b.support, b.partsSupport, err
}

func (b *Bucket) probe(ctx context.Context) (Support, error) {
	key := b.key(ProbeName)
	s := &staged{mem: probeContent, size: int64(len(probeContent)), sum: sha256.Sum256(probeContent)}
	for range createAttempts {
		err := b.puts.put(ctx, key, s, true)
		if err == nil {
			err = b.puts.put(ctx, key, s, true)
			if err == nil {
				return Ignored, nil
			}
		}
		switch {
		case hasStatus(err, http.StatusPreconditionFailed):
			return Honoured, nil
		case hasStatus(err, http.StatusConflict):
			continue // another node's conditional put of the probe was in flight
		case hasStatus(err, http.StatusBadRequest) || hasStatus(err, http.StatusNotImplemented):
			if plain := b.puts.put(ctx, key, s, false); plain != nil {
				return 0, fmt.Errorf("put %s: %w", key, plain)
			}
			return Refused, nil
		}
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	return 0, fmt.Errorf("the object %s kept changing while it was written; try again", key)
}

// probeParts finds out what the store does with the create-only
// condition on the completion of a multipart upload, which a store may
// honour on single puts and not there: it uploads the probe's content
// in parts to the probe's key, which exists once probe found the
// condition honoured, and completes with the condition. A refusal proves
// it honoured (and the upload is aborted); a completion taken replaced
// the object with the same content.
func (b *Bucket) probeParts(ctx context.Context) (Support, error) {
	key := b.key(ProbeName)
	s := &staged{mem: probeContent, size: int64(len(probeContent)), sum: sha256.Sum256(probeContent)}
	for range createAttempts {
		err := b.uploadParts(ctx, key, s, true)
		switch {
		case err == nil:
			return Ignored, nil
		case hasStatus(err, http.StatusPreconditionFailed):
			return Honoured, nil
		case hasStatus(err, http.StatusConflict):
			continue
		case hasStatus(err, http.StatusBadRequest) || hasStatus(err, http.StatusNotImplemented):
			return Refused, nil
		}
		return 0, err
	}
	return 0, fmt.Errorf("the object %s kept changing while it was written; try again", key)
}

// unconditional reports whether puts (with parts, multipart uploads) go
// without the create-only condition, each looking at its key first: the
// store does not honour it, and the destination is to check first. With
// Require, such a store is a CreateOnlyError. The store is probed before
// the destination's first put, and its multipart uploads before the
// first of those.
func (b *Bucket) unconditional(ctx context.Context, parts bool) (bool, error) {
	b.supportMu.Lock()
	defer b.supportMu.Unlock()
	if b.support == 0 {
		if err := b.learn(ctx, &b.support, b.probeID(), b.probe); err != nil {
			return false, err
		}
	}
	if b.support != Honoured || !parts {
		return b.support != Honoured, b.admit(b.support, false)
	}
	if b.partsSupport == 0 {
		if err := b.learn(ctx, &b.partsSupport, b.probeID()+" parts", b.probeParts); err != nil {
			return false, err
		}
	}
	return b.partsSupport != Honoured, b.admit(b.partsSupport, true)
}

// learn fills *support from what the process knows under id or else from
// probe, and tells the process what was found honoured. It runs once per
// destination, not on every put: id costs an allocation.
func (b *Bucket) learn(ctx context.Context, support *Support, id string, probe func(context.Context) (Support, error)) error {
	if b.probes.known(id) {
		*support = Honoured
		return nil
	}
	got, err := probe(ctx)
	if err != nil {
		return fmt.Errorf("find out whether the object store honours create-only puts: %w", err)
	}
	*support = got
	if got == Honoured {
		b.probes.learn(id)
	}
	return nil
}

// admit is nil if the destination may write to a store of that support
// of the create-only condition (on the completion of multipart uploads,
// with parts), else a CreateOnlyError.
func (b *Bucket) admit(support Support, parts bool) error {
	if support == Honoured || b.createOnly == CheckFirst {
		return nil
	}
	return &CreateOnlyError{Endpoint: b.endpoint(), Root: b.root, Support: support, Parts: parts}
}

// probeID names what a probe's answer holds for: the store and the
// destination's root.
func (b *Bucket) probeID() string { return b.endpoint() + " " + b.root }

// endpoint is the store's URL as configured; "" for AWS's.
func (b *Bucket) endpoint() string { return aws.ToString(b.client.Options().BaseEndpoint) }

// CreateOnlyError is a store that does not honour the create-only
// condition, where s3_create_only requires it.
type CreateOnlyError struct {
	// Endpoint is the store's URL, "" for AWS's; Root the destination.
	Endpoint, Root string
	Support        Support
	// Parts: on the completion of multipart uploads (large files), the
	// store honouring it on single puts.
	Parts bool
}

func (e *CreateOnlyError) Error() string {
	store := "the object store"
	if e.Endpoint != "" {
		store += " at " + e.Endpoint
	}
	put := "a put"
	if e.Parts {
		put = "the completion of a multipart upload, which large files take,"
	}
	what := "ignores the create-only condition of " + put + " (If-None-Match: *): a put there replaces an object of the same key, so one invoice.pdf would silently replace another"
	if e.Support == Refused {
		what = "refuses the create-only condition of " + put + " (If-None-Match: *), which every put of mailtask's carries"
	}
	return fmt.Sprintf("%s %s; nothing is written to %s while s3_create_only is \"require\" (the default): upgrade the store to a release that honours If-None-Match: *, or set s3_create_only = \"check_first\" to look at each key before writing it",
		store, what, e.Root)
}
