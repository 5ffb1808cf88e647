package auth

import (
	"strings"
	"testing"
)

// FuzzServerInput feeds what a server or identity platform sends and
// mailtask parses — failure challenges and token claims — and checks that
// parsing never fails badly and never echoes control characters raw.
func FuzzServerInput(f *testing.F) {
	f.Add(`{"status":"401","schemes":"bearer","scope":"https://outlook.office.com/IMAP.AccessAsUser.All"}`)
	f.Add("eyJhbGciOiJub25lIn0.eyJ1cG4iOiJhQGIifQ.c2ln")
	f.Add("\x00\x01{")
	f.Add(`{"status":"4\n01","scope":"a\rb"}`)
	f.Fuzz(func(t *testing.T, s string) {
		d := describeChallenge(s)
		if strings.ContainsAny(d, "\r\n\x00") {
			t.Errorf("describeChallenge(%q) = %q holds control characters", s, d)
		}
		identity(&grant{idToken: s, access: secret(s)})
	})
}
