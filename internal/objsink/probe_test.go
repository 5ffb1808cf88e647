package objsink

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/s3url"
	"mailtask/internal/sink"
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
		for _, want := range []string{`s3_create_only = "check_first"`, tg.srv.Endpoint, "s3://" + tg.bucket + "/mail"} {
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
		srv  *versitygw.Server
		want Support
	}{
		{versitygw.Shared(t), Honoured},
		{versitygw.SharedLegacy(t), Ignored},
	} {
		root := s3url.Scheme + tc.srv.NewBucket(t) + "/in"
		got := make([]Support, nodes)
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range nodes {
			wg.Go(func() {
				<-start
				got[i], errs[i] = Probe(testContext(t), tc.srv.Client(), root, CheckFirst)
			})
		}
		close(start)
		wg.Wait()
		for i := range nodes {
			if errs[i] != nil || got[i] != tc.want {
				t.Errorf("%s: node %d found %v, %v; want %v", tc.srv.Endpoint, i, got[i], errs[i], tc.want)
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
