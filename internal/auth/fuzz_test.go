package auth

import (
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"mailtask/internal/testmail"
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

// FuzzClientCertificateFile feeds what a client_certificate_file may
// hold, whoever wrote it, to the PEM reading of LoadClientCertificate:
// it must never panic, take a key that is not the certificate's, or put
// control characters in its errors (which reach logs).
func FuzzClientCertificateFile(f *testing.F) {
	c, err := testmail.NewAppCertificate(time.Now().Add(-time.Hour), time.Now().Add(time.Hour), false)
	if err != nil {
		f.Fatal(err)
	}
	// No seed holds a whole RSA key: parsing one is the standard
	// library's and costly; the PEM walk around it is what is fuzzed.
	f.Add(append([]byte("Bag Attributes\n    localKeyID: 01\n"), c.CertPEM...))
	f.Add(append(append([]byte{}, c.CertPEM...), "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----\n"...))
	f.Add(c.CertPEM)
	f.Add(c.Cert.Raw)
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN \x1b[31m PRIVATE KEY-----\n\n-----END \x1b[31m PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := pemCertificates(data)
		if err == nil {
			var key *rsa.PrivateKey
			if key, err = pemPrivateKey(data, true); err == nil {
				var cc *ClientCertificate
				if cc, err = pair(certs, key); err == nil && !cc.Cert.PublicKey.(*rsa.PublicKey).Equal(&key.PublicKey) {
					t.Fatal("paired a key with another certificate")
				}
			}
		}
		if err != nil && strings.ContainsFunc(err.Error(), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("error with control characters: %q", err)
		}
	})
}

// FuzzServiceAccountKeyFile feeds what a service_account_key_file may
// hold to its reading: it must never panic, and its errors must never
// show the private key or hold control characters (they reach logs).
func FuzzServiceAccountKeyFile(f *testing.F) {
	f.Add([]byte(`{"type":"service_account","client_email":"a@p.iam.gserviceaccount.com","token_uri":"https://oauth2.googleapis.com/token","private_key":"-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----\n"}`))
	f.Add([]byte(`{"type":"service_account","client_email":"a","token_uri":"javascript:x","private_key":"MIIsecret"}`))
	f.Add([]byte(`{"installed":{"client_secret":"GOCSPX-MIIsecret"}}`))
	f.Add([]byte(`{"type":"\u001b[31mservice_account","private_key":"MIIsecret"}`))
	f.Add([]byte("{\"private_key\":\"MIIsecret\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := parseServiceAccountKey(data)
		if err == nil {
			return
		}
		if strings.ContainsFunc(err.Error(), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("error with control characters: %q", err)
		}
		if strings.Contains(err.Error(), "MII") {
			t.Fatalf("the error shows the key: %q", err)
		}
	})
}
