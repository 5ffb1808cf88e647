package testmail

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"strings"
	"testing"
	"time"

	"mailtask/internal/clock"
)

// testAssertion is a client assertion to forge: every field may be
// spoiled.
type testAssertion struct {
	alg, thumbKind string // "PS256"/"RS256"/"none"; "x5t#S256", "x5t" or ""
	cert           *x509.Certificate
	key            []byte // PEM of the signing key
	aud, iss, sub  string
	jti            string
	nbf, exp       time.Time
}

func (a testAssertion) sign(t *testing.T) string {
	t.Helper()
	h := map[string]string{"alg": a.alg, "typ": "JWT"}
	switch a.thumbKind {
	case "x5t#S256":
		s := sha256.Sum256(a.cert.Raw)
		h["x5t#S256"] = base64.RawURLEncoding.EncodeToString(s[:])
	case "x5t":
		s := sha1.Sum(a.cert.Raw)
		h["x5t"] = base64.RawURLEncoding.EncodeToString(s[:])
	}
	header, _ := json.Marshal(h)
	claims, _ := json.Marshal(map[string]any{"aud": a.aud, "iss": a.iss, "sub": a.sub, "jti": a.jti, "nbf": a.nbf.Unix(), "iat": a.nbf.Unix(), "exp": a.exp.Unix()})
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	b, _ := pem.Decode(a.key)
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(signing))
	var sig []byte
	switch a.alg {
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, k.(*rsa.PrivateKey), crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "RS256":
		sig, err = rsa.SignPKCS1v15(nil, k.(*rsa.PrivateKey), crypto.SHA256, digest[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

// TestIdPVerifiesClientAssertions: the IdP takes an assertion only when
// it is signed by the key of a certificate the app registration holds,
// for this app, this endpoint and now, once; and refuses the rest with
// Entra's codes and wording.
func TestIdPVerifiesClientAssertions(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	registered, err := NewAppCertificate(now.AddDate(0, -1, 0), now.AddDate(1, 0, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	lapsed, err := NewAppCertificate(now.AddDate(-2, 0, 0), now.AddDate(0, 0, -1), false)
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := NewAppCertificate(now.AddDate(0, -1, 0), now.AddDate(1, 0, 0), true)
	if err != nil {
		t.Fatal(err)
	}
	p := startIdP(t, IdPOptions{ClientCertificates: []*x509.Certificate{registered.Cert, lapsed.Cert}, Clock: clock.NewFake(now)})
	endpoint := p.Endpoint(p.Tenant(), "token")
	good := func() testAssertion {
		return testAssertion{alg: "PS256", thumbKind: "x5t#S256", cert: registered.Cert, key: registered.KeyPEM, aud: endpoint, iss: p.ClientID(), sub: p.ClientID(),
			jti: randomGUID(), nbf: now, exp: now.Add(10 * time.Minute)}
	}
	post := func(a testAssertion, assertionType string) idpReply {
		return postForm(t, endpoint, url.Values{"grant_type": {"client_credentials"}, "client_id": {p.ClientID()}, "scope": {"https://outlook.office365.com/.default"},
			"client_assertion_type": {assertionType}, "client_assertion": {a.sign(t)}})
	}
	const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

	replayed := good()
	for _, c := range []struct {
		name   string
		spoil  func(*testAssertion)
		typ    string
		status int
		code   int
		text   string
	}{
		{"PS256 with x5t#S256", func(*testAssertion) {}, jwtBearer, 200, 0, ""},
		{"RS256 with x5t", func(a *testAssertion) { a.alg, a.thumbKind = "RS256", "x5t" }, jwtBearer, 200, 0, ""},
		{"clocks five minutes apart", func(a *testAssertion) { a.nbf, a.exp = now.Add(4*time.Minute), now.Add(14*time.Minute) }, jwtBearer, 200, 0, ""},
		{"first use", func(a *testAssertion) { *a = replayed }, jwtBearer, 200, 0, ""},
		{"replayed", func(a *testAssertion) { *a = replayed }, jwtBearer, 401, 50027, "jti is missing or was presented before"},
		{"wrong assertion type", func(*testAssertion) {}, "urn:ietf:params:oauth:grant-type:jwt-bearer", 400, 50027, "Invalid client assertion type"},
		{"no thumbprint", func(a *testAssertion) { a.thumbKind = "" }, jwtBearer, 401, 50027, "No certificate thumbprint specified in token header."},
		{"another app", func(a *testAssertion) { a.iss = "11111111-0000-0000-0000-000000000000" }, jwtBearer, 401, 700021, "Client assertion application identifier doesn't match 'client_id' parameter."},
		{"another subject", func(a *testAssertion) { a.sub = "someone" }, jwtBearer, 401, 700021, "doesn't match 'client_id'"},
		{"another endpoint", func(a *testAssertion) { a.aud = "https://login.microsoftonline.com/common/oauth2/v2.0/token" }, jwtBearer, 401, 700023, "Client assertion audience claim does not match Realm issuer."},
		{"expired", func(a *testAssertion) { a.nbf, a.exp = now.Add(-20*time.Minute), now.Add(-10*time.Minute) }, jwtBearer, 401, 700024,
			"Client assertion is not within its valid time range. Current time: 2026-12-01T08:00:00.0000000Z, assertion valid from 2026-12-01T07:40:00.0000000Z, expiry time of assertion 2026-12-01T07:50:00.0000000Z."},
		{"from the future", func(a *testAssertion) { a.nbf, a.exp = now.Add(time.Hour), now.Add(70*time.Minute) }, jwtBearer, 401, 700024, "not within its valid time range"},
		{"certificate not uploaded", func(a *testAssertion) { a.cert, a.key = unknown.Cert, unknown.KeyPEM }, jwtBearer, 401, 700027,
			"The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '"},
		{"uploaded certificate expired", func(a *testAssertion) { a.cert, a.key = lapsed.Cert, lapsed.KeyPEM }, jwtBearer, 401, 700027, "[Reason - The key used is expired., Thumbprint of key used by client: '"},
		{"signed by another key", func(a *testAssertion) { a.key = unknown.KeyPEM }, jwtBearer, 401, 700027,
			"Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value."},
		{"unsigned", func(a *testAssertion) { a.alg = "none" }, jwtBearer, 401, 700027, "failed signature validation"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := good()
			c.spoil(&a)
			r := post(a, c.typ)
			if c.code == 0 {
				if r.status != 200 || r.AccessToken == "" {
					t.Fatalf("refused: %+v", r)
				}
				return
			}
			if r.status != c.status || len(r.ErrorCodes) != 1 || r.ErrorCodes[0] != c.code || !strings.Contains(r.ErrorDescription, c.text) || !strings.Contains(r.ErrorDescription, "Trace ID: ") {
				t.Errorf("got %d %v %q\nwant %d AADSTS%d with %q", r.status, r.ErrorCodes, r.ErrorDescription, c.status, c.code, c.text)
			}
		})
	}
}

// TestIdPErrorBody sends Entra's whole JSON error body: the fields
// besides error and error_description that support asks for.
func TestIdPErrorBody(t *testing.T) {
	p := startIdP(t, IdPOptions{})
	resp, err := noRedirects.PostForm(p.Endpoint(p.Tenant(), "token"), url.Values{"grant_type": {"client_credentials"}, "client_id": {p.ClientID()}, "scope": {"https://outlook.office365.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	desc, _ := body["error_description"].(string)
	trace, _ := body["trace_id"].(string)
	corr, _ := body["correlation_id"].(string)
	if body["error"] != "invalid_client" || len(trace) != 36 || len(corr) != 36 || !strings.Contains(desc, "Trace ID: "+trace) || !strings.Contains(desc, "Correlation ID: "+corr) ||
		body["error_uri"] != "https://login.microsoftonline.com/error?code=7000218" || body["timestamp"] == nil {
		t.Errorf("error body: %v", body)
	}
}
