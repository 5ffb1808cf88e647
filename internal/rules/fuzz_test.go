package rules

import (
	"bytes"
	"testing"

	"mailtask/internal/extract"
	"mailtask/internal/testmail"
)

// FuzzClassify feeds Classify messages made from the automatic mail of the
// fidelity corpus: whatever a sender writes, it decides the same on the
// message parsed whole as on its header alone (the prefilter's view), and
// gives the header that decided.
func FuzzClassify(f *testing.F) {
	for _, fx := range testmail.FidelityCorpus() {
		if fx.Automatic != "" || fx.Name == "erp-invoice-auto-generated" || fx.Name == "person-out-of-office-subject" {
			header, _, _ := bytes.Cut(fx.Raw, []byte("\r\n\r\n"))
			f.Add(header, []byte("body\r\n"))
		}
	}
	f.Fuzz(func(t *testing.T, header, body []byte) {
		if bytes.Contains(header, []byte("\n\n")) || bytes.Contains(header, []byte("\r\n\r\n")) {
			return // the header would end early
		}
		whole, err := extract.Parse(bytes.NewReader(append(append(header[:len(header):len(header)], "\r\n\r\n"...), body...)))
		if err != nil {
			return
		}
		top, err := extract.Parse(bytes.NewReader(append(header[:len(header):len(header)], "\r\n\r\n"...)))
		if err != nil {
			t.Fatalf("the whole message parses, its header alone not: %v", err)
		}
		a, b := Classify(whole.Header, whole.Subject), Classify(top.Header, top.Subject)
		if a != b {
			t.Errorf("whole %+v, header alone %+v", a, b)
		}
		if a.Kind != "" && a.Sign == "" {
			t.Errorf("%s without a sign", a.Kind)
		}
	})
}
