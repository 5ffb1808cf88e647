package testmail

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// assertionSkew is the clock difference the IdP forgives in an
// assertion's nbf and exp, as every verifier must.
const assertionSkew = 5 * time.Minute

// certificateDocs ends Entra's replies about client assertions.
const certificateDocs = " Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."

// checkAssertion verifies a client assertion (RFC 7523) as Entra does,
// against the certificates uploaded to the app registration, for a
// request posted to tokenURL; it returns the refusal Entra sends, or nil.
// Beyond Entra, it refuses an assertion whose jti it has seen: Entra
// documents no such check (MSAL once reused assertions), but a client
// that signs one per request never meets it, and one that does not
// should be caught.
func (p *IdP) checkAssertion(f url.Values, tokenURL string) *IdPError {
	invalid := func(aadsts int, msg string) *IdPError {
		return &IdPError{Status: http.StatusUnauthorized, Code: "invalid_client", AADSTS: aadsts, Message: msg}
	}
	if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return &IdPError{Code: "invalid_request", AADSTS: 50027, Message: "Invalid client assertion type: the client_assertion_type must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'."}
	}
	parts := strings.Split(f.Get("client_assertion"), ".")
	var (
		header struct {
			Alg     string `json:"alg"`
			X5t     string `json:"x5t"`
			X5tS256 string `json:"x5t#S256"`
		}
		claims struct {
			Aud, Iss, Sub, Jti string
			Nbf, Exp           *int64
		}
	)
	if len(parts) != 3 || decodeJSON(parts[0], &header) != nil || decodeJSON(parts[1], &claims) != nil {
		return &IdPError{Code: "invalid_request", AADSTS: 50027, Message: "JWT token is invalid or malformed."}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return &IdPError{Code: "invalid_request", AADSTS: 50027, Message: "JWT token is invalid or malformed."}
	}
	if header.X5t == "" && header.X5tS256 == "" {
		return invalid(50027, "Invalid JWT token. No certificate thumbprint specified in token header.")
	}
	if claims.Iss != f.Get("client_id") || claims.Sub != f.Get("client_id") {
		return invalid(700021, "Client assertion application identifier doesn't match 'client_id' parameter."+certificateDocs)
	}
	if claims.Aud != tokenURL {
		return invalid(700023, "Client assertion audience claim does not match Realm issuer."+certificateDocs)
	}
	now := p.opts.Clock.Now()
	from, until := time.Unix(0, 0), time.Unix(0, 0)
	if claims.Nbf != nil {
		from = time.Unix(*claims.Nbf, 0)
	}
	if claims.Exp != nil {
		until = time.Unix(*claims.Exp, 0)
	}
	if now.Add(assertionSkew).Before(from) || !now.Add(-assertionSkew).Before(until) {
		const stamp = "2006-01-02T15:04:05.0000000Z"
		return invalid(700024, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s.%s",
			now.UTC().Format(stamp), from.UTC().Format(stamp), until.UTC().Format(stamp), certificateDocs))
	}

	// The key: by the thumbprint in the header, among the app's.
	thumb := thumbprintHex(header.X5t) // as Entra names it: upper-case hex
	if header.X5tS256 != "" {
		thumb = thumbprintHex(header.X5tS256)
	}
	found := -1
	for i, c := range p.opts.ClientCertificates {
		s1, s256 := sha1.Sum(c.Raw), sha256.Sum256(c.Raw)
		if header.X5tS256 == base64.RawURLEncoding.EncodeToString(s256[:]) || header.X5tS256 == "" && header.X5t == base64.RawURLEncoding.EncodeToString(s1[:]) {
			found = i
		}
	}
	graph := fmt.Sprintf("Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/%s']", p.opts.ClientID, p.opts.ClientID)
	if found < 0 {
		return invalid(700027, fmt.Sprintf("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '%s', %s.", thumb, graph))
	}
	cert := p.opts.ClientCertificates[found]
	foundKey := fmt.Sprintf("Found key 'Start=%s, End=%s'", cert.NotBefore.UTC().Format("01/02/2006 15:04:05"), cert.NotAfter.UTC().Format("01/02/2006 15:04:05"))
	if now.After(cert.NotAfter) {
		return invalid(700027, fmt.Sprintf("Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '%s', %s, %s.", thumb, foundKey, graph))
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch {
	case !ok:
		err = fmt.Errorf("not an RSA key")
	case header.Alg == "PS256":
		err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case header.Alg == "RS256":
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	default:
		err = fmt.Errorf("alg %q", header.Alg)
	}
	if err != nil {
		return invalid(700027, fmt.Sprintf("Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '%s', %s, %s.", thumb, foundKey, graph))
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	for jti, exp := range p.jtis { // forget those that could not pass the time check again
		if now.Add(-assertionSkew).After(exp) {
			delete(p.jtis, jti)
		}
	}
	if _, seen := p.jtis[claims.Jti]; seen || claims.Jti == "" {
		return invalid(50027, "Invalid JWT token. The client assertion's jti is missing or was presented before (the test IdP's own check).")
	}
	p.jtis[claims.Jti] = until
	form := "x5t"
	if header.X5tS256 != "" {
		form = "x5t#S256"
	}
	p.assertionForms = append(p.assertionForms, header.Alg+" "+form)
	return nil
}

// AssertionForms returns how each client assertion the IdP took was
// signed and named its certificate: "PS256 x5t#S256", "RS256 x5t".
func (p *IdP) AssertionForms() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.assertionForms)
}

// thumbprintHex is a base64url thumbprint as Entra prints it.
func thumbprintHex(b64 string) string {
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return b64
	}
	return strings.ToUpper(hex.EncodeToString(raw))
}

func decodeJSON(b64 string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}
