package testmail

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Service accounts: Google's token endpoint (https://oauth2.googleapis.com/token)
// takes a JWT its service account signed (RFC 7523 2.1) and answers with
// a token acting as the user the JWT names (sub), when a Workspace admin
// granted the account domain-wide delegation for the scopes it asks for.

// GoogleServiceAccount is a service account of the IdP's Google Cloud
// project, with the domain-wide delegation a Workspace admin granted it.
type GoogleServiceAccount struct {
	ClientEmail string // NAME@PROJECT.iam.gserviceaccount.com
	ClientID    string // numeric; delegation is granted to it
	// Keys are the account's public keys by private_key_id; a deleted key
	// is one left out.
	Keys map[string]*rsa.PublicKey
	// Delegated are the scopes granted to ClientID (Admin console >
	// Security > Access and data control > API controls > Manage Domain
	// Wide Delegation); none: not granted.
	Delegated []string
	Disabled  bool
}

// The test service account's names.
const (
	ServiceAccountEmail    = "mailtask-reader@mailtask-test.iam.gserviceaccount.com"
	ServiceAccountClientID = "104201937245510061234"
)

// ServiceAccountKey is a key of a service account: the public part the
// IdP holds, and the JSON key file the Cloud console downloads.
type ServiceAccountKey struct {
	ID     string // private_key_id
	Public *rsa.PublicKey
	pem    []byte
}

// NewServiceAccountKey returns the test key (other: a second one) under
// a key ID of its own.
func NewServiceAccountKey(other bool) (ServiceAccountKey, error) {
	keyPEM := appKeyPEM
	if other {
		keyPEM = otherKeyPEM
	}
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return ServiceAccountKey{}, fmt.Errorf("testmail: the embedded key is not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return ServiceAccountKey{}, fmt.Errorf("testmail: the embedded key: %w", err)
	}
	return ServiceAccountKey{ID: randomHex(20), Public: &key.(*rsa.PrivateKey).PublicKey, pem: keyPEM}, nil
}

// Account returns the test service account holding k, granted
// domain-wide delegation for scopes.
func (k ServiceAccountKey) Account(scopes ...string) GoogleServiceAccount {
	return GoogleServiceAccount{ClientEmail: ServiceAccountEmail, ClientID: ServiceAccountClientID, Keys: map[string]*rsa.PublicKey{k.ID: k.Public}, Delegated: scopes}
}

// JSON is k's key file for the test service account, naming tokenURI
// (an IdP's GoogleTokenURL).
func (k ServiceAccountKey) JSON(tokenURI string) []byte {
	data, _ := json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  "mailtask-test",
		"private_key_id":              k.ID,
		"private_key":                 string(k.pem),
		"client_email":                ServiceAccountEmail,
		"client_id":                   ServiceAccountClientID,
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/mailtask-reader%40mailtask-test.iam.gserviceaccount.com",
		"universe_domain":             "googleapis.com",
	}, "", "  ")
	return data
}

// GoogleTokenURL is the IdP's Google token endpoint.
func (p *IdP) GoogleTokenURL() string { return p.URL + "/token" }

// The reply texts of Google's token endpoint, word for word.
const (
	GoogleUnauthorizedClient = "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."
	GoogleUnknownUser        = "Invalid email or User ID"
	GoogleBadSignature       = "Invalid JWT Signature."
	GoogleBadTime            = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
	GoogleNoAccount          = "Invalid grant: account not found"
)

// googleError sends Google's JSON error: an OAuth2 code and its text,
// nothing else.
func googleError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// googleToken is Google's token endpoint for the JWT bearer grant. It
// verifies the JWT for real: the service account by iss, its key by kid
// and the RS256 signature, aud, the times (at most an hour, with the
// skew every verifier forgives), each scope in the account's delegation,
// and sub one of the domain's users.
func (p *IdP) googleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		googleError(w, http.StatusBadRequest, "invalid_request", "Bad Request")
		return
	}
	f := r.PostForm
	grant := f.Get("grant_type")
	if e, failing := p.count(grant); failing {
		if e.Status == 0 {
			e.Status = http.StatusBadRequest
		}
		googleError(w, e.Status, e.Code, e.Message)
		return
	}
	if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		googleError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+grant)
		return
	}
	parts := strings.Split(f.Get("assertion"), ".")
	var (
		header struct{ Alg, Kid string }
		claims struct {
			Iss, Sub, Scope, Aud string
			Iat, Exp             *int64
		}
	)
	if len(parts) != 3 || decodeJSON(parts[0], &header) != nil || decodeJSON(parts[1], &claims) != nil {
		googleError(w, http.StatusBadRequest, "invalid_request", "Invalid JWT payload")
		return
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		googleError(w, http.StatusBadRequest, "invalid_grant", GoogleBadSignature)
		return
	}
	i := slices.IndexFunc(p.opts.ServiceAccounts, func(sa GoogleServiceAccount) bool { return sa.ClientEmail == claims.Iss })
	if i < 0 || p.opts.ServiceAccounts[i].Disabled {
		googleError(w, http.StatusBadRequest, "invalid_grant", GoogleNoAccount)
		return
	}
	sa := p.opts.ServiceAccounts[i]
	pub := sa.Keys[header.Kid]
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if pub == nil || header.Alg != "RS256" || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
		googleError(w, http.StatusBadRequest, "invalid_grant", GoogleBadSignature)
		return
	}
	now := p.opts.Clock.Now()
	if claims.Iat == nil || claims.Exp == nil {
		googleError(w, http.StatusBadRequest, "invalid_grant", GoogleBadTime)
		return
	}
	iat, exp := time.Unix(*claims.Iat, 0), time.Unix(*claims.Exp, 0)
	if exp.Sub(iat) > time.Hour || now.Add(assertionSkew).Before(iat) || !now.Add(-assertionSkew).Before(exp) {
		googleError(w, http.StatusBadRequest, "invalid_grant", GoogleBadTime)
		return
	}
	if claims.Aud != p.GoogleTokenURL() {
		googleError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Failed audience check. The expected audience is "+p.GoogleTokenURL()+".")
		return
	}
	scopes := strings.Fields(claims.Scope)
	if len(scopes) == 0 || slices.ContainsFunc(scopes, func(s string) bool { return !slices.Contains(sa.Delegated, s) }) {
		googleError(w, http.StatusUnauthorized, "unauthorized_client", GoogleUnauthorizedClient)
		return
	}
	if !slices.Contains(p.opts.WorkspaceUsers, claims.Sub) {
		googleError(w, http.StatusBadRequest, "invalid_grant", GoogleUnknownUser)
		return
	}
	token := "ya29.c." + randomHex(48)
	p.mu.Lock()
	p.access[token] = &idpGrant{IdPGrant: IdPGrant{User: claims.Sub, Scopes: scopes, Expiry: now.Add(p.opts.AccessTTL)}}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token,
		"expires_in":   int(p.opts.AccessTTL.Seconds()) - 1, // Google's say 3599
		"token_type":   "Bearer",
	})
}
