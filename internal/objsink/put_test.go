package objsink

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/s3url"
	"mailtask/internal/sink"
	"mailtask/internal/testmail/versitygw"
)

var (
	invoiceA = []byte("%PDF-1.4 invoice A\n")
	invoiceB = []byte("%PDF-1.4 invoice B, different\n")
)

func TestRerunOfIdenticalContentIsExistingNotASecondCopy(t *testing.T) {
	eachStore(t, func(t *testing.T, srv store) {
		tg := openOn(t, srv, "mail/in", Options{})
		first, err := tg.put(t, "contoso.com/2026", "invoice.pdf", invoiceA, sink.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		again, err := tg.put(t, "contoso.com/2026", "invoice.pdf", invoiceA, sink.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		if first.Existing || first.Rel() != "contoso.com/2026/invoice.pdf" || !again.Existing || again.Name != "invoice.pdf" {
			t.Fatalf("first %+v, again %+v; want the same name, the second Existing", first, again)
		}
		if keys := tg.keys(t); join(keys) != "mail/in/contoso.com/2026/invoice.pdf" {
			t.Fatalf("bucket holds %v, want the one object", keys)
		}
		data, meta := tg.get(t, "mail/in/contoso.com/2026/invoice.pdf")
		sum := sumOf(invoiceA)
		if !bytes.Equal(data, invoiceA) || meta[SHA256Metadata] != hex.EncodeToString(sum[:]) || first.SHA256 != sum {
			t.Fatalf("object %q with metadata %v; Stored.SHA256 %x", data, meta, first.SHA256)
		}
		loc := tg.dest.Locate(first.Rel())
		if loc.Key != "mail/in/contoso.com/2026/invoice.pdf" || loc.URL != "s3://"+tg.bucket+"/"+loc.Key || loc.Path != "" {
			t.Fatalf("Locate: %+v", loc)
		}
	})
}

func TestDifferentContentMeetsTheCollisionPolicy(t *testing.T) {
	eachStore(t, func(t *testing.T, srv store) {
		tg := openOn(t, srv, "", Options{})
		if _, err := tg.put(t, "", "invoice.pdf", invoiceA, sink.Policy{}); err != nil {
			t.Fatal(err)
		}

		st, err := tg.put(t, "", "invoice.pdf", invoiceB, sink.Policy{Collision: sink.Suffix})
		if err != nil || st.Name != "invoice (1).pdf" || st.Existing {
			t.Fatalf("suffix: %+v, %v", st, err)
		}
		// The re-run of the suffixed file finds it where it went.
		if st, err := tg.put(t, "", "invoice.pdf", invoiceB, sink.Policy{Collision: sink.Suffix}); err != nil || st.Name != "invoice (1).pdf" || !st.Existing {
			t.Fatalf("suffix again: %+v, %v", st, err)
		}

		st, err = tg.put(t, "", "invoice.pdf", invoiceB, sink.Policy{Collision: sink.Skip})
		if err != nil || !st.Skipped {
			t.Fatalf("skip: %+v, %v", st, err)
		}
		if data, _ := tg.get(t, "invoice.pdf"); !bytes.Equal(data, invoiceA) {
			t.Fatal("skip changed the object")
		}

		_, err = tg.put(t, "", "invoice.pdf", invoiceB, sink.Policy{Collision: sink.Fail})
		if !errors.Is(err, sink.ErrCollision) {
			t.Fatalf("fail: %v, want ErrCollision", err)
		}

		st, err = tg.put(t, "", "invoice.pdf", invoiceB, sink.Policy{Collision: sink.Overwrite})
		if err != nil || !st.Replaced {
			t.Fatalf("overwrite: %+v, %v", st, err)
		}
		if data, _ := tg.get(t, "invoice.pdf"); !bytes.Equal(data, invoiceB) {
			t.Fatal("overwrite did not replace the object")
		}
		if keys := tg.keys(t); join(keys) != "invoice (1).pdf, invoice.pdf" {
			t.Fatalf("bucket holds %v", keys)
		}
	})
}

func TestObjectsOthersWroteAreComparedByContent(t *testing.T) {
	eachStore(t, func(t *testing.T, srv store) {
		tg := openOn(t, srv, "p", Options{})
		tg.rawPut(t, "p/same.pdf", invoiceA)
		st, err := tg.put(t, "", "same.pdf", invoiceA, sink.Policy{})
		if err != nil || !st.Existing {
			t.Fatalf("identical content without our metadata: %+v, %v; want Existing", st, err)
		}
		// Same size, different bytes.
		other := bytes.ToUpper(invoiceA)
		tg.rawPut(t, "p/other.pdf", other)
		st, err = tg.put(t, "", "other.pdf", invoiceA, sink.Policy{})
		if err != nil || st.Name != "other (1).pdf" {
			t.Fatalf("different content of the same size: %+v, %v; want a suffix", st, err)
		}
	})
}

func TestLargeObjectsGoUpInPartsCreateOnly(t *testing.T) {
	eachStore(t, func(t *testing.T, srv store) {
		tg := openOn(t, srv, "big", Options{MultipartThreshold: 6 << 20, PartSize: 5 << 20})
		content := bytes.Repeat([]byte("0123456789abcdef"), (11<<20)/16+3) // three parts
		st, err := tg.put(t, "", "scan.tiff", content, sink.Policy{})
		if err != nil || st.Existing || st.Size != int64(len(content)) {
			t.Fatalf("first put: %+v, %v", st, err)
		}
		data, meta := tg.get(t, "big/scan.tiff")
		if !bytes.Equal(data, content) || meta[SHA256Metadata] != hex.EncodeToString(st.SHA256[:]) {
			t.Fatalf("multipart object: %d bytes (want %d), metadata %v", len(data), len(content), meta)
		}
		if again, err := tg.put(t, "", "scan.tiff", content, sink.Policy{}); err != nil || !again.Existing {
			t.Fatalf("re-run: %+v, %v; want Existing", again, err)
		}

		// The condition on CompleteMultipartUpload itself: a multipart upload
		// to a key that exists is refused at completion, leaves the object as
		// it was and no upload behind.
		f, _ := tg.dest.Folder("")
		changed := append(bytes.Clone(content[:len(content)-1]), 'X')
		p, err := f.Stage(bytes.NewReader(changed), sink.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Discard()
		ctx := testContext(t)
		err = tg.dest.upload(ctx, "big/scan.tiff", p.(*staged), true)
		if !hasStatus(err, 412) {
			t.Fatalf("multipart upload over an existing key: %v, want 412", err)
		}
		if data, _ := tg.get(t, "big/scan.tiff"); !bytes.Equal(data, content) {
			t.Fatal("the refused upload changed the object")
		}
		ups, err := tg.srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(tg.bucket)})
		if err != nil || len(ups.Uploads) != 0 {
			t.Fatalf("uploads left: %d, %v", len(ups.Uploads), err)
		}
	})
}

func TestKeysStayUnderTheDestination(t *testing.T) {
	tg := openTarget(t, "root", Options{})
	for _, rel := range []string{"..", "a/../b", "a//b", "/a", "a/"} {
		if _, err := tg.dest.Folder(rel); err == nil {
			t.Errorf("Folder(%q) was accepted", rel)
		}
	}
	for _, name := range []string{"../x.pdf", "a/b.pdf", "", ".."} {
		if _, err := tg.put(t, "", name, invoiceA, sink.Policy{}); err == nil {
			t.Errorf("PutStaged(%q) was accepted", name)
		}
	}
	if keys := tg.keys(t); len(keys) != 0 {
		t.Fatalf("refused names wrote %v", keys)
	}
}

func TestStagingLargeContentUsesTheSpoolAndCloseEmptiesIt(t *testing.T) {
	tg := openTarget(t, "", Options{})
	f, _ := tg.dest.Folder("")
	big := bytes.Repeat([]byte{'x'}, memLimit+1)
	p, err := f.Stage(bytes.NewReader(big), sink.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if s := p.(*staged); s.file == nil || s.mem != nil || s.size != int64(len(big)) || s.sum != sumOf(big) {
		t.Fatalf("staged %d bytes: in a file %v, in memory %d", s.size, s.file != nil, len(s.mem))
	}
	st, err := f.PutStaged(testContext(t), "big.bin", p)
	if err != nil || st.Size != int64(len(big)) {
		t.Fatalf("%+v, %v", st, err)
	}
	if err := tg.dest.Close(); err != nil {
		t.Fatal(err)
	}
}

// A spool file whose content was put stages the next content spooled,
// emptied first: no new file (an inode each), and nothing of the earlier
// content reaches the next object.
func TestSpoolFilesAreReusedEmptied(t *testing.T) {
	srv := versitygw.Shared(t)
	// A put's first attempt sends the spool file itself (putobject.go),
	// not a reader of the staged size of it.
	client, err := NewClient(testContext(t), ClientConfig{Endpoint: srv.Endpoint, Region: versitygw.Region,
		AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	bucket := srv.NewBucket(t)
	dest, err := Open(Options{Root: s3url.Scheme + bucket, Client: client, SpoolDir: t.TempDir(), MemoryBudget: 1}) // everything spooled
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	tg := &target{srv: srv, bucket: bucket, dest: dest}
	f, _ := dest.Folder("")
	contents := map[string][]byte{"long.txt": bytes.Repeat([]byte("long "), 1000), "short.txt": []byte("short")}
	var inodes []uint64
	for _, name := range []string{"long.txt", "short.txt"} {
		p, err := f.Stage(bytes.NewReader(contents[name]), sink.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		fi, err := p.(*staged).file.Stat()
		if err != nil {
			t.Fatal(err)
		}
		inodes = append(inodes, fi.Sys().(*syscall.Stat_t).Ino)
		if _, err := f.PutStaged(testContext(t), name, p); err != nil {
			t.Fatal(err)
		}
	}
	if inodes[0] != inodes[1] {
		t.Errorf("the second content was spooled in a new file (inode %d, then %d)", inodes[0], inodes[1])
	}
	for name, want := range contents {
		if data, _ := tg.get(t, name); !bytes.Equal(data, want) {
			t.Errorf("%s holds %q, want %q", name, data, want)
		}
	}
}

// Small content stays in memory only while the destination's budget has
// room: what would go over it is staged in a file, until content put or
// discarded makes room again.
func TestStagedContentInMemoryKeepsToTheBudget(t *testing.T) {
	tg := openTarget(t, "", Options{MemoryBudget: 250})
	f, _ := tg.dest.Folder("")
	stage := func(content []byte) *staged {
		t.Helper()
		p, err := f.Stage(bytes.NewReader(content), sink.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		return p.(*staged)
	}
	a, b := stage(bytes.Repeat([]byte{'a'}, 100)), stage(bytes.Repeat([]byte{'b'}, 100))
	c := stage(bytes.Repeat([]byte{'c'}, 100))
	if a.mem == nil || b.mem == nil || c.file == nil || c.mem != nil {
		t.Fatalf("in memory: %v %v %v; want the first two, the third in a file", a.mem != nil, b.mem != nil, c.mem != nil)
	}
	if _, err := f.PutStaged(testContext(t), "a.txt", a); err != nil {
		t.Fatal(err)
	}
	if d := stage(bytes.Repeat([]byte{'d'}, 100)); d.mem == nil {
		t.Fatal("content put did not give its memory back")
	}
	if _, err := f.PutStaged(testContext(t), "c.txt", c); err != nil {
		t.Fatal(err)
	}
	if data, _ := tg.get(t, "c.txt"); !bytes.Equal(data, bytes.Repeat([]byte{'c'}, 100)) {
		t.Fatalf("c.txt holds %q", data)
	}
}

// A destination makes its folder in the spool only once content is
// staged in a file: a run of a mailbox with nothing large (most runs of
// a cluster polling thousands) makes and removes no folder, which cost
// an inode per run. The first spill clears what a crashed run left.
func TestTheSpoolFolderIsMadeAtTheFirstSpill(t *testing.T) {
	tg := openTarget(t, "", Options{})
	spool := tg.dest.spoolDir
	debris := filepath.Join(spool, spoolPrefix+"crashed")
	if err := os.Mkdir(debris, 0o700); err != nil {
		t.Fatal(err)
	}
	entries := func() []string {
		des, err := os.ReadDir(spool)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		return names
	}
	f, _ := tg.dest.Folder("")
	small, err := f.Stage(bytes.NewReader([]byte("small")), sink.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	small.Discard()
	if got := entries(); len(got) != 1 || got[0] != filepath.Base(debris) {
		t.Fatalf("after staging in memory the spool holds %v, want only the debris", got)
	}
	big, err := f.Stage(bytes.NewReader(bytes.Repeat([]byte{'x'}, memLimit+1)), sink.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if got := entries(); len(got) != 1 || got[0] == filepath.Base(debris) {
		t.Fatalf("after a spill the spool holds %v, want the destination's own folder alone", got)
	}
	big.Discard()
	if err := tg.dest.Close(); err != nil {
		t.Fatal(err)
	}
	if got := entries(); len(got) != 0 {
		t.Fatalf("after Close the spool holds %v", got)
	}
}

// TestStagingAllocatesTheContentOnce checks that content staged in memory
// costs about its own size in allocations, not the two to three times of
// a slice grown as it is read (most of the CPU the sink's staging took).
func TestStagingAllocatesTheContentOnce(t *testing.T) {
	if raceDetector {
		t.Skip("sync.Pool drops buffers at random under -race")
	}
	tg := openTarget(t, "", Options{})
	f, _ := tg.dest.Folder("")
	content := bytes.Repeat([]byte("attachment "), memLimit/12)
	stage := func() {
		p, err := f.Stage(bytes.NewReader(content), sink.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		if s := p.(*staged); !bytes.Equal(s.mem, content) || s.sum != sumOf(content) {
			t.Fatalf("staged %d bytes in memory, want the %d of the content", len(s.mem), len(content))
		}
		p.Discard()
	}
	stage() // the scratch buffer
	const runs = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		stage()
	}
	runtime.ReadMemStats(&after)
	if per := float64(after.TotalAlloc-before.TotalAlloc) / runs; per > 1.25*float64(len(content)) {
		t.Errorf("staging %d bytes allocated %.0f bytes", len(content), per)
	}
}

// TestContentIsReadOnceToPutIt checks that a put reads its content once,
// to send it: the SHA-256 the request needs is the one Stage took, not
// taken again (as the SDK does over plain HTTP when the payload is
// signed) by reading it all first.
func TestContentIsReadOnceToPutIt(t *testing.T) {
	srv := versitygw.Shared(t)
	c := &countingBodies{}
	client := s3.New(s3.Options{
		Region: versitygw.Region, BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true, HTTPClient: c,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKeyID, srv.SecretAccessKey, ""),
	})
	b, err := Open(Options{Root: s3url.Scheme + srv.NewBucket(t) + "/in", Client: client, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	content := bytes.Repeat([]byte("invoice "), 8<<10)
	st := putNamed(t, b, "invoice.pdf", content)
	if st.Name != "invoice.pdf" || st.Existing {
		t.Fatalf("put: %+v", st)
	}
	// The probe's two puts (probe.go) come first.
	if got := c.read.Load() - 2*int64(len(probeContent)); got != int64(len(content)) {
		t.Errorf("the put read %d bytes of its %d-byte content", got, len(content))
	}
}

// countingBodies is an HTTP client that counts the bytes read of the
// bodies of the requests it sends.
type countingBodies struct{ read atomic.Int64 }

func (c *countingBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = countedReader{r.Body, &c.read}
	}
	return http.DefaultClient.Do(r)
}

// countedReader counts the bytes read through it.
type countedReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countedReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestContentThatDoesNotMatchItsSumIsRefused checks that content changed
// between Stage and the put never becomes an object: the signature does
// not cover the content (unsignedPayloadHash), so the SHA-256 in the
// checksum header, which it covers, is what the store checks it by.
func TestContentThatDoesNotMatchItsSumIsRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, srv store) {
		tg := openOn(t, srv, "in", Options{})
		f, err := tg.dest.Folder("")
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{4 << 10, memLimit + 1} { // in memory, spooled
			p, err := f.Stage(bytes.NewReader(bytes.Repeat([]byte("invoice "), size/8+1)[:size]), sink.Policy{})
			if err != nil {
				t.Fatal(err)
			}
			s := p.(*staged)
			if s.file != nil {
				if _, err := s.file.WriteAt([]byte("X"), 10); err != nil {
					t.Fatal(err)
				}
			} else {
				s.mem[10] = 'X'
			}
			if st, err := f.PutStaged(testContext(t), "invoice.pdf", p); err == nil {
				t.Fatalf("%d bytes unlike their SHA-256 were put: %+v", size, st)
			}
			if keys := tg.keys(t); len(keys) != 0 {
				t.Fatalf("after a refused put of %d bytes the bucket holds %v", size, keys)
			}
		}
	})
}
