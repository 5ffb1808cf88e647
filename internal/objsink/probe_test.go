package objsink

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/s3url"
	"mailtask/internal/sink"
	"mailtask/internal/testmail/seaweedfs"
	"mailtask/internal/testmail/versitygw"
)

// On a store that ignores If-None-Match: *, the default writes nothing,
// not even the first file, and says which setting to change: a second
// invoice.pdf would replace the first unseen.
func TestAStoreIgnoringCreateOnlyIsNotWrittenToByDefault(t *testing.T) {
	tg := openOn(t, versitygw.SharedLegacy(t), "mail", Options{})
	for _, content := range [][]byte{invoiceA, invoiceB} {
		_, err := tg.put(t, "acme", "invoice.pdf", content, sink.Policy{Collision: sink.Suffix})
		var co *CreateOnlyError
		if !errors.As(err, &co) || co.Support != Ignored {
			t.Fatalf("put to a store ignoring the condition: %v, want a CreateOnlyError", err)
		}
		for _, want := range []string{`s3_create_only = "check_first"`, versitygw.SharedLegacy(t).Endpoint, "s3://" + tg.bucket + "/mail"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not name %q: %v", want, err)
			}
		}
	}
	if keys := tg.keys(t); len(keys) != 0 {
		t.Fatalf("refused puts wrote %v", keys)
	}
	if data, _ := tg.get(t, "mail/"+ProbeName); !bytes.Equal(data, probeContent) {
		t.Fatalf("the probe's object holds %q", data)
	}
}

// With check_first, a store that ignores the condition keeps both of two
// different files of one name put by two runs (which share no memory of
// the names), as one that honours it does, single puts and multipart
// uploads alike, and a re-run finds each where it went.
func TestCheckFirstKeepsBothFilesOnAStoreIgnoringCreateOnly(t *testing.T) {
	srv := versitygw.SharedLegacy(t)
	big := func(last byte) []byte {
		return append(bytes.Repeat([]byte("0123456789abcdef"), 512), last)
	}
	for _, tc := range []struct {
		name string
		o    Options
		a, b []byte
	}{
		{"single puts", Options{CreateOnly: CheckFirst}, invoiceA, invoiceB},
		{"multipart", Options{CreateOnly: CheckFirst, MultipartThreshold: 4 << 10, PartSize: 5 << 20}, big('A'), big('B')},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := openOn(t, srv, "", tc.o)
			suffix := sink.Policy{Collision: sink.Suffix}
			for i, content := range [][]byte{tc.a, tc.b} {
				st, err := tg.reopen(t, tc.o).put(t, "acme", "invoice.pdf", content, suffix)
				if err != nil || st.Existing || st.Name != sink.Candidate("invoice.pdf", i) {
					t.Fatalf("put %d: %+v, %v; want a new %q", i, st, err, sink.Candidate("invoice.pdf", i))
				}
			}
			if keys := tg.keys(t); join(keys) != "acme/invoice (1).pdf, acme/invoice.pdf" {
				t.Fatalf("bucket holds %v", keys)
			}
			for key, want := range map[string][]byte{"acme/invoice.pdf": tc.a, "acme/invoice (1).pdf": tc.b} {
				if data, _ := tg.get(t, key); !bytes.Equal(data, want) {
					t.Errorf("%s holds %d bytes, not its file's %d", key, len(data), len(want))
				}
			}
			// A later run, which knows nothing of the names yet.
			st, err := tg.reopen(t, tc.o).put(t, "acme", "invoice.pdf", tc.b, suffix)
			if err != nil || !st.Existing || st.Name != "invoice (1).pdf" {
				t.Fatalf("re-run: %+v, %v; want the existing invoice (1).pdf", st, err)
			}
			if _, err := tg.put(t, "acme", "invoice.pdf", tc.b, sink.Policy{Collision: sink.Fail}); !errors.Is(err, sink.ErrCollision) {
				t.Fatalf("on_collision = fail: %v", err)
			}
			if data, _ := tg.get(t, "acme/invoice.pdf"); !bytes.Equal(data, tc.a) {
				t.Fatal("a refused put replaced the object")
			}
		})
	}
}

// requestLog is an HTTP client that notes each request's method and path.
type requestLog struct {
	mu   sync.Mutex
	sent []string
}

func (l *requestLog) Do(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.sent = append(l.sent, r.Method+" "+r.URL.Path)
	l.mu.Unlock()
	return http.DefaultClient.Do(r)
}

func (l *requestLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.sent, ", ")
	l.sent = nil
	return s
}

// On a store that honours the condition, the first probe of a
// destination costs two puts, a later start's one, and a destination
// opened again by the same process none.
func TestTheProbeCostsOneRequestOnceItsObjectExists(t *testing.T) {
	srv := versitygw.Shared(t)
	bucket := srv.NewBucket(t)
	log := &requestLog{}
	client := s3.New(s3.Options{
		Region: versitygw.Region, BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true, HTTPClient: log,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKeyID, srv.SecretAccessKey, ""),
	})
	probe, file := "PUT /"+bucket+"/in/"+ProbeName, "PUT /"+bucket+"/in/acme/"
	for i, tc := range []struct {
		probes *Probes
		want   string
	}{
		{&Probes{}, probe + ", " + probe + ", " + file + "a.pdf"},
		{&Probes{}, probe + ", " + file + "b.pdf"}, // a later start
	} {
		b, err := Open(Options{Root: s3url.Scheme + bucket + "/in", Client: client, SpoolDir: t.TempDir(), Probes: tc.probes})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		name := fmt.Sprintf("%c.pdf", 'a'+i)
		putNamed(t, b, name, invoiceA)
		if got := log.take(); got != tc.want {
			t.Errorf("start %d: requests %s, want %s", i+1, got, tc.want)
		}
		// The next destination opened by this process (its next run).
		b, err = Open(Options{Root: s3url.Scheme + bucket + "/in", Client: client, SpoolDir: t.TempDir(), Probes: tc.probes})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		putNamed(t, b, "next-"+name, invoiceB)
		if got, want := log.take(), file+"next-"+name; got != want {
			t.Errorf("start %d, next run: requests %s, want %s", i+1, got, want)
		}
	}
}

// Nodes probing one destination at once all find what the store does,
// whichever of them creates the probe's object.
func TestProbesRacingEachOtherAgree(t *testing.T) {
	const nodes = 6
	for _, tc := range []struct {
		name string
		srv  store
		want Support
	}{
		{"versitygw", versitygw.Shared(t), Honoured},
		{"seaweedfs", seaweedfs.Shared(t), Honoured},
		{"versitygw " + versitygw.LegacyVersion, versitygw.SharedLegacy(t), Ignored},
	} {
		root := s3url.Scheme + tc.srv.NewBucket(t) + "/in"
		got := make([]Support, nodes)
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range nodes {
			wg.Go(func() {
				<-start
				got[i], _, errs[i] = Probe(testContext(t), tc.srv.Client(), root, CheckFirst)
			})
		}
		close(start)
		wg.Wait()
		for i := range nodes {
			if errs[i] != nil || got[i] != tc.want {
				t.Errorf("%s: node %d found %v, %v; want %v", tc.name, i, got[i], errs[i], tc.want)
			}
		}
	}
}

// A store that refuses the condition itself (501, or 400) refuses every
// put; the probe tells it from a request refused for another reason by a
// put without the condition.
func TestAStoreRefusingTheConditionIsToldApart(t *testing.T) {
	for _, tc := range []struct {
		script []int
		want   Support
		code   string
	}{
		{[]int{501, 200}, Refused, ""},
		{[]int{400, 200}, Refused, ""},
		{[]int{400, 400}, 0, "BadRequest"}, // not the condition: the request
		{[]int{412}, Honoured, ""},
		{[]int{200, 412}, Honoured, ""},
		{[]int{200, 200}, Ignored, ""},
		{[]int{409, 412}, Honoured, ""}, // another node's probe in flight
	} {
		store := &scriptedStore{script: tc.script}
		b := scriptedBucket(t, store, 0)
		got, err := b.probe(testContext(t))
		if got != tc.want || (tc.code == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.code)) {
			t.Errorf("%v: %v, %v; want %v %s", tc.script, got, err, tc.want, tc.code)
		}
		if len(store.read) != len(tc.script) {
			t.Errorf("%v: %d requests, want %d", tc.script, len(store.read), len(tc.script))
		}
	}
	err := (&CreateOnlyError{Root: "s3://b/p", Support: Refused}).Error()
	if !strings.Contains(err, "refuses the create-only condition") || !strings.Contains(err, "s3_create_only") {
		t.Errorf("the error of a store refusing the condition: %s", err)
	}
}

// A store's multipart uploads are probed before a destination's first
// one, once: on a store that honours the condition, the probe's upload
// is refused at completion and aborted, leaving no upload behind.
func TestMultipartUploadsAreProbedBeforeTheFirst(t *testing.T) {
	eachStore(t, func(t *testing.T, srv store) {
		bucket := srv.NewBucket(t)
		log := &requestLog{}
		b, err := Open(Options{Root: s3url.Scheme + bucket + "/in", Client: through(srv, log), SpoolDir: t.TempDir(), MultipartThreshold: 4 << 10, PartSize: 5 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		probe, file := "/"+bucket+"/in/"+ProbeName, "/"+bucket+"/in/acme/"
		putNamed(t, b, "small.pdf", invoiceA)
		if got, want := log.take(), "PUT "+probe+", PUT "+probe+", PUT "+file+"small.pdf"; got != want {
			t.Errorf("a small file: requests %s, want %s", got, want)
		}
		upload := func(name string) string {
			return "POST " + file + name + ", PUT " + file + name + ", POST " + file + name
		}
		putNamed(t, b, "big.pdf", bytes.Repeat([]byte("big "), 2<<10))
		if got, want := log.take(), "POST "+probe+", PUT "+probe+", POST "+probe+", DELETE "+probe+", "+upload("big.pdf"); got != want {
			t.Errorf("the first large file: requests %s,\nwant %s", got, want)
		}
		putNamed(t, b, "big2.pdf", bytes.Repeat([]byte("BIG "), 2<<10))
		if got, want := log.take(), upload("big2.pdf"); got != want {
			t.Errorf("the next large file: requests %s, want %s", got, want)
		}
		ups, err := srv.Client().ListMultipartUploads(testContext(t), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
		if err != nil || len(ups.Uploads) != 0 {
			t.Fatalf("uploads left: %d, %v", len(ups.Uploads), err)
		}
	})
}

// partsIgnoringStore stands for a store that honours If-None-Match: * on
// single puts but not on the completion of multipart uploads, which
// replaces the object: no store at hand does that, and one may. It keeps
// objects in memory and counts the completions sent with the condition.
type partsIgnoringStore struct {
	mu          sync.Mutex
	objects     map[string][]byte
	conditional int // completions carrying If-None-Match
}

func (s *partsIgnoringStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	key, q := r.URL.Path, r.URL.Query()
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		fmt.Fprintf(w, `<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>`)
	case r.Method == http.MethodPut && q.Has("partNumber"):
		s.objects["part "+key] = body
		w.Header().Set("ETag", `"p1"`)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		if r.Header.Get("If-None-Match") != "" {
			s.conditional++
		}
		s.objects[key] = s.objects["part "+key]
		fmt.Fprintf(w, `<CompleteMultipartUploadResult><ETag>"c1"</ETag></CompleteMultipartUploadResult>`)
	case r.Method == http.MethodPut:
		if _, ok := s.objects[key]; ok && r.Header.Get("If-None-Match") == "*" {
			w.WriteHeader(http.StatusPreconditionFailed)
			fmt.Fprint(w, `<Error><Code>PreconditionFailed</Code></Error>`)
			return
		}
		s.objects[key] = body
	case r.Method == http.MethodHead:
		data, ok := s.objects[key]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		sum := sha256.Sum256(data)
		w.Header().Set("X-Amz-Meta-"+SHA256Metadata, hex.EncodeToString(sum[:]))
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotImplemented)
	}
}

// A store that honours the condition on single puts but not on the
// completion of multipart uploads takes small files, and large ones only
// with check_first, which looks at the key first and completes without
// the condition.
func TestAStoreIgnoringCreateOnlyOnMultipartUploadsIsFound(t *testing.T) {
	for _, mode := range []CreateOnly{Require, CheckFirst} {
		store := &partsIgnoringStore{objects: map[string][]byte{}}
		srv := httptest.NewServer(store)
		defer srv.Close()
		client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider("id", "secret", "")})
		b, err := Open(Options{Root: "s3://mixed/in", Client: client, SpoolDir: t.TempDir(), MultipartThreshold: 4 << 10, PartSize: 5 << 20, CreateOnly: mode})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		putNamed(t, b, "small.pdf", invoiceA)
		f, _ := b.Folder("acme")
		big := bytes.Repeat([]byte("big "), 2<<10)
		for i := range 2 {
			p, err := f.Stage(bytes.NewReader(big), sink.Policy{})
			if err != nil {
				t.Fatal(err)
			}
			st, err := f.PutStaged(testContext(t), "big.pdf", p)
			var co *CreateOnlyError
			switch {
			case mode == Require && (!errors.As(err, &co) || !co.Parts || !strings.Contains(err.Error(), "multipart upload")):
				t.Fatalf("require, large file %d: %+v, %v; want a CreateOnlyError of multipart uploads", i, st, err)
			case mode == CheckFirst && (err != nil || st.Existing != (i == 1)):
				t.Fatalf("check_first, large file %d: %+v, %v; want it new, then Existing", i, st, err)
			}
		}
		if store.conditional != 1 {
			t.Errorf("mode %d: %d completions carried the condition, want the probe's alone", mode, store.conditional)
		}
		if _, ok := store.objects["/mixed/in/acme/big.pdf"]; ok != (mode == CheckFirst) {
			t.Errorf("mode %d: the large file written: %v", mode, ok)
		}
	}
}
