package objsink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/s3url"
	"mailtask/internal/sink"
)

// Index finds content already under a destination by its SHA-256, for
// dedupe without listing the bucket. pgstore.DedupeIndex is one.
type Index interface {
	// Lookup returns the key recorded for content of sum, "" if none.
	Lookup(ctx context.Context, sum [32]byte) (string, error)
	// Record notes that key holds content of sum.
	Record(ctx context.Context, sum [32]byte, key string) error
	// Forget drops the entry of sum if it names key.
	Forget(ctx context.Context, sum [32]byte, key string) error
}

// Options are what Open needs.
type Options struct {
	// Root is the destination up to its first variable:
	// s3://bucket/prefix (pathtmpl.SplitRoot).
	Root   string
	Client *s3.Client
	// SpoolDir holds staged content until it is uploaded. It must be the
	// owner's own (the task's spool folder): the first content staged
	// there removes what a crashed run left in it.
	SpoolDir string
	// Index serves Policy.Dedupe; without one, a Dedupe put fails.
	Index Index
	// Objects larger than MultipartThreshold go up in parts of PartSize
	// (defaults DefaultMultipartThreshold and DefaultPartSize; S3 takes
	// parts of 5 MiB and more, and at most 10,000 of them).
	MultipartThreshold, PartSize int64
	// MemoryBudget bounds the staged content held in memory at once
	// (default MemoryBudget).
	MemoryBudget int64
	// CreateOnly is what to do if the store does not honour create-only
	// puts; Probes what the process knows of that already (nil: this
	// destination probes for itself).
	CreateOnly CreateOnly
	Probes     *Probes
}

// MemoryBudget is how many bytes of staged content a destination holds in
// memory at once, over all the files staged and not yet put; a file that
// would go over it is staged in a spool file, as large ones are. Content
// stays staged until its batch is written, outside popimap's budget
// (which ends when a message is staged): a batch of the corpus of make
// bench held up to 5 MB. A program running tasks that write to an object
// store adds it to its memory limit (cmd/mailtask does).
const MemoryBudget = 8 << 20

// Defaults of Options. A single PUT may carry 5 GiB; parts keep a retry
// from sending a large file again from the start.
const (
	DefaultMultipartThreshold = 64 << 20
	DefaultPartSize           = 16 << 20
	minPartSize               = 5 << 20
	maxParts                  = 10000
	// maxKeyLen is S3's limit on a key, in bytes.
	maxKeyLen = 1024
)

// Bucket is a destination in an object store: a bucket and a key prefix.
// It implements sink.Destination and is safe for concurrent use.
type Bucket struct {
	root     string // s3://bucket/prefix, as the configuration gave it
	bucket   string
	prefix   string // "" or "a/b", no slash at either end
	client   *s3.Client
	puts     *putter
	index    Index
	spoolDir string // Options.SpoolDir
	mpAbove  int64
	partSize int64
	// memBudget is Options.MemoryBudget; inMemory the bytes of staged
	// content held in memory now.
	memBudget int64
	inMemory  atomic.Int64
	// families is what suffix naming learnt of each name's " (n)"
	// variants (suffix.go).
	familiesMu sync.Mutex
	families   map[string]*family
	// spool is this Open's own folder in spoolDir, made when content is
	// first staged in a file (spoolFolder).
	spoolMu sync.Mutex
	spool   string
	// spares are spool files kept for reuse (spare.go); closed once the
	// destination is.
	sparesMu sync.Mutex
	spares   []*os.File
	closed   bool
	// createOnly is Options.CreateOnly; support and partsSupport what
	// the store does with the create-only condition of a put and of the
	// completion of a multipart upload, once probed (probe.go).
	createOnly   CreateOnly
	probes       *Probes
	supportMu    sync.Mutex
	support      Support
	partsSupport Support
}

var _ sink.Destination = (*Bucket)(nil)

// spoolPrefix names the folders Open makes in SpoolDir.
const spoolPrefix = "objsink-"

// Open opens the destination o.Root for writing. It does not contact the
// store: the first put does.
func Open(o Options) (*Bucket, error) {
	bucket, prefix, err := s3url.Parse(o.Root)
	if err != nil {
		return nil, err
	}
	if o.Client == nil || o.SpoolDir == "" {
		return nil, errors.New("objsink: Options need a Client and a SpoolDir")
	}
	b := &Bucket{root: o.Root, bucket: bucket, prefix: prefix, client: o.Client, puts: newPutter(o.Client, bucket), index: o.Index,
		spoolDir: o.SpoolDir, mpAbove: o.MultipartThreshold, partSize: o.PartSize, memBudget: o.MemoryBudget,
		createOnly: o.CreateOnly, probes: o.Probes}
	if b.probes == nil {
		b.probes = &Probes{}
	}
	if b.memBudget <= 0 {
		b.memBudget = MemoryBudget
	}
	if b.mpAbove <= 0 {
		b.mpAbove = DefaultMultipartThreshold
	}
	if b.partSize <= 0 {
		b.partSize = DefaultPartSize
	}
	if b.partSize < minPartSize {
		return nil, fmt.Errorf("objsink: part size %d is below S3's minimum of 5 MiB", b.partSize)
	}
	return b, nil
}

// spoolFolder returns this Open's own folder in the spool, made the
// first time content is staged in a file: most runs stage nothing that
// large, and a folder made (and removed) on every Open was most of the
// CPU of a node running thousands of tasks over empty mailboxes (an inode
// each, which costs up to a millisecond on ext4 without a journal while
// other processes delete files).
func (b *Bucket) spoolFolder() (string, error) {
	b.spoolMu.Lock()
	defer b.spoolMu.Unlock()
	if b.spool != "" {
		return b.spool, nil
	}
	if err := os.MkdirAll(b.spoolDir, 0o700); err != nil {
		return "", err
	}
	if err := removeDebris(b.spoolDir); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(b.spoolDir, spoolPrefix)
	if err != nil {
		return "", err
	}
	b.spool = dir
	return dir, nil
}

// removeDebris deletes the spool folders earlier Buckets left in dir.
func removeDebris(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), spoolPrefix) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// Path is the destination's URL.
func (b *Bucket) Path() string { return b.root }

// Folder returns the folder rel below the destination: a key prefix.
// Nothing is created: object stores have no folders.
func (b *Bucket) Folder(rel string) (sink.Folder, error) {
	if rel != "" {
		for seg := range strings.SplitSeq(rel, "/") {
			if err := sink.CheckName(seg); err != nil {
				return nil, fmt.Errorf("folder %q in %s: %w", rel, b.root, err)
			}
		}
	}
	return &folder{b: b, rel: rel}, nil
}

// Flush does nothing: staged content is uploaded when it is named.
func (b *Bucket) Flush(context.Context) error { return nil }

// PutsAtOnce is how many files the pipeline may name at once: a put waits
// mostly on the store (a few milliseconds each, for a server that syncs
// every object), so one at a time would leave it and this machine idle.
// It is below the SDK's idle connections per host (10), so that every
// put finds a connection kept alive.
func (b *Bucket) PutsAtOnce() int { return putsAtOnce }

const putsAtOnce = 8

// Sync does nothing: an object is durable once the store has
// acknowledged it.
func (b *Bucket) Sync(context.Context) error { return nil }

// Close removes what is left in the spool.
func (b *Bucket) Close() error {
	b.closeSpares()
	b.spoolMu.Lock()
	defer b.spoolMu.Unlock()
	if b.spool == "" {
		return nil
	}
	if err := os.RemoveAll(b.spool); err != nil {
		return fmt.Errorf("destination %s: spool: %w", b.root, err)
	}
	return nil
}

// Locate returns the key and URL of the object at rel.
func (b *Bucket) Locate(rel string) sink.Location {
	key := b.key(rel)
	return sink.Location{Key: key, URL: s3url.Scheme + b.bucket + "/" + key}
}

// Open reads the object at rel.
func (b *Bucket) Open(ctx context.Context, rel string) (io.ReadCloser, error) {
	got, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.key(rel))})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", b.Locate(rel).URL, err)
	}
	return got.Body, nil
}

// key is the object key of rel, a path below the destination.
func (b *Bucket) key(rel string) string {
	if b.prefix == "" {
		return rel
	}
	return b.prefix + "/" + rel
}

// rel is the path below the destination of key, which lies under the
// prefix.
func (b *Bucket) rel(key string) string {
	if b.prefix == "" {
		return key
	}
	return strings.TrimPrefix(key, b.prefix+"/")
}

// folder is a key prefix below the destination.
type folder struct {
	b   *Bucket
	rel string
}

// Path is the folder's URL.
func (f *folder) Path() string {
	if f.rel == "" {
		return f.b.root
	}
	return strings.TrimSuffix(f.b.root, "/") + "/" + f.rel
}

// relOf is the path below the destination of the file name in f.
func (f *folder) relOf(name string) string { return path.Join(f.rel, name) }

// Fits refuses a name whose key would be longer than S3 takes.
func (f *folder) Fits(name string) error {
	if key := f.b.key(f.relOf(name)); len(key) > maxKeyLen {
		return &KeyTooLongError{Key: key}
	}
	return nil
}

// KeyTooLongError is an object key longer than S3's maxKeyLen bytes.
type KeyTooLongError struct{ Key string }

func (e *KeyTooLongError) Error() string {
	return fmt.Sprintf("the object key %q is %d bytes, longer than S3's %d: shorten the task's destination, file_name or message_name",
		e.Key, len(e.Key), maxKeyLen)
}
