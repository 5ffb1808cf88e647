package extract

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"mailtask/internal/testmail"
)

// Bounds on one malformed message. They are loose on purpose, and not
// speed targets: they catch a parser that hangs or explodes. enmime is
// quadratic in the number of sibling parts (Part.AddChild walks the
// list) and in the nesting depth (each level re-reads through every
// enclosing boundary), which is why scanShape refuses messages beyond
// maxParts and maxDepth before enmime sees them.
const (
	malformedTimeLimit  = 30 * time.Second
	malformedAllocRatio = 1000 // bytes allocated per byte of message
	malformedAllocFloor = 64 << 20
)

// nestedDeep is a message of depth multiparts, each the only part of the
// one around it, with one attachment at the bottom.
func nestedDeep(depth int) []byte {
	var b strings.Builder
	b.WriteString("From: a@example.test\r\nSubject: nested\r\nMIME-Version: 1.0\r\n")
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"level-%d\"\r\n\r\n--level-%d\r\n", i, i)
	}
	b.WriteString("Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=bottom.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--level-%d--\r\n", i)
	}
	return []byte(b.String())
}

// TestMalformedCorpus parses every message of testmail.MalformedCorpus
// (missing boundaries, broken base64, wrong charsets, header-only, 10,000
// parts, deep nesting, 1 MB header lines, bare LF, ...) and more shapes:
// each is either extracted, with exactly the files a tolerant extractor
// recovers, or refused as unparseable (which the pipeline quarantines with
// the reason), within bounded time and allocation.
func TestMalformedCorpus(t *testing.T) {
	corpus := append(testmail.MalformedCorpus(),
		testmail.Fixture{Name: "nested-300-deep", Raw: nestedDeep(300), Files: []string{"bottom.pdf"}},
		testmail.Fixture{Name: "not-a-mail", Raw: []byte("\x00\x01\x02 binary garbage, no header at all")},
		testmail.Fixture{Name: "empty", Raw: nil},
	)
	unparseable := map[string]bool{"not-a-mail": true, "empty": true, "10000-tiny-parts": true, "nested-300-deep": true, "1mb-header-line": true}
	for _, fx := range corpus {
		t.Run(fx.Name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			type result struct {
				m   *Message
				err error
			}
			done := make(chan result, 1)
			start := time.Now()
			go func() {
				m, err := Parse(bytes.NewReader(fx.Raw))
				done <- result{m, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(malformedTimeLimit):
				t.Fatalf("Parse of %d bytes still running after %v", len(fx.Raw), malformedTimeLimit)
			}
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes: %v, %d MB allocated", len(fx.Raw), took.Round(time.Millisecond), alloc>>20)
			if limit := uint64(malformedAllocRatio*len(fx.Raw) + malformedAllocFloor); alloc > limit {
				t.Errorf("Parse allocated %d MB for %d bytes, over %d MB", alloc>>20, len(fx.Raw), limit>>20)
			}

			if unparseable[fx.Name] {
				if !errors.Is(r.err, ErrUnparseable) || r.err.Error() == ErrUnparseable.Error() {
					t.Errorf("Parse = %v, want ErrUnparseable with a reason", r.err)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("Parse: %v", r.err)
			}
			var names []string
			for _, f := range r.m.Files {
				checkName(t, f.Name)
				names = append(names, f.Name)
			}
			if !slices.Equal(names, fx.Files) {
				t.Errorf("files %q, want %q", names, fx.Files)
			}
		})
	}
}
