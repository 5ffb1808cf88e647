package mailgen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestPDFDoc checks the cross-reference table, the part of a PDF that
// readers refuse to open without.
func TestPDFDoc(t *testing.T) {
	doc := PDF(rand.New(rand.NewPCG(1, 2)), "Invoice (draft)", 5000)
	if n := len(doc); n < 4900 || n > 5000 {
		t.Errorf("PDF(5000) is %d bytes", n)
	}
	var startxref int
	tail := doc[bytes.LastIndex(doc, []byte("startxref\n")):]
	if _, err := fmt.Sscanf(string(tail), "startxref\n%d\n%%%%EOF\n", &startxref); err != nil {
		t.Fatalf("trailer %q: %v", tail, err)
	}
	if !bytes.HasPrefix(doc[startxref:], []byte("xref\n0 7\n")) {
		t.Fatalf("startxref %d does not point at the xref table", startxref)
	}
	entries := strings.Split(string(doc[startxref:]), "\n")[3:9]
	for i, e := range entries {
		var off int
		if _, err := fmt.Sscanf(e, "%010d 00000 n ", &off); err != nil || len(e)+1 != 20 {
			t.Fatalf("xref entry %q: %v", e, err)
		}
		if want := fmt.Sprintf("%d 0 obj\n", i+1); !bytes.HasPrefix(doc[off:], []byte(want)) {
			t.Errorf("xref entry %d points at %q", i+1, doc[off:off+10])
		}
	}
}
