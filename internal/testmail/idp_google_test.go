package testmail

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"mailtask/internal/clock"
)

// TestGoogleTokenEndpointVerifies forges service account grants with one
// thing wrong each, and checks that the endpoint refuses each with
// Google's words, and takes the right one.
func TestGoogleTokenEndpointVerifies(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	key, err := NewServiceAccountKey(false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartIdP(IdPOptions{ServiceAccounts: []GoogleServiceAccount{key.Account("https://mail.google.com/")}, WorkspaceUsers: []string{"alice@example.com"}, Clock: clock.NewFake(now)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	b, _ := pem.Decode(appKeyPEM)
	priv, _ := x509.ParsePKCS8PrivateKey(b.Bytes)
	sign := func(header, claims map[string]any) string {
		h, _ := json.Marshal(header)
		c, _ := json.Marshal(claims)
		enc := base64.RawURLEncoding
		signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
		digest := sha256.Sum256([]byte(signing))
		sig, _ := rsa.SignPKCS1v15(nil, priv.(*rsa.PrivateKey), crypto.SHA256, digest[:])
		return signing + "." + enc.EncodeToString(sig)
	}
	good := func() (map[string]any, map[string]any) {
		return map[string]any{"alg": "RS256", "typ": "JWT", "kid": key.ID},
			map[string]any{"iss": ServiceAccountEmail, "sub": "alice@example.com", "scope": "https://mail.google.com/", "aud": p.GoogleTokenURL(), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	for _, c := range []struct {
		name   string
		spoil  func(h, c map[string]any)
		status int
		want   string
	}{
		{"right", func(h, c map[string]any) {}, 200, `"token_type":"Bearer"`},
		{"another key id", func(h, c map[string]any) { h["kid"] = "0123" }, 400, GoogleBadSignature},
		{"HS256", func(h, c map[string]any) { h["alg"] = "HS256" }, 400, GoogleBadSignature},
		{"another account", func(h, c map[string]any) { c["iss"] = "other@mailtask-test.iam.gserviceaccount.com" }, 400, GoogleNoAccount},
		{"over an hour", func(h, c map[string]any) { c["exp"] = now.Add(61 * time.Minute).Unix() }, 400, GoogleBadTime},
		{"issued in the future", func(h, c map[string]any) {
			c["iat"], c["exp"] = now.Add(10*time.Minute).Unix(), now.Add(time.Hour).Unix()
		}, 400, GoogleBadTime},
		{"expired", func(h, c map[string]any) {
			c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}, 400, GoogleBadTime},
		{"another audience", func(h, c map[string]any) { c["aud"] = "https://oauth2.googleapis.com/token" }, 400, "Failed audience check"},
		{"scope not delegated", func(h, c map[string]any) {
			c["scope"] = "https://mail.google.com/ https://www.googleapis.com/auth/drive"
		}, 401, GoogleUnauthorizedClient},
		{"no user", func(h, c map[string]any) { delete(c, "sub") }, 400, GoogleUnknownUser},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, claims := good()
			c.spoil(h, claims)
			resp, err := http.PostForm(p.GoogleTokenURL(), url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {sign(h, claims)}})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status || !strings.Contains(string(body), c.want) {
				t.Errorf("status %d %s\nwant %d %s", resp.StatusCode, body, c.status, c.want)
			}
		})
	}
}
