package auth

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"mailtask/internal/config"
)

// JWTBearerGrant is the grant_type of a token request that presents a
// JWT as the grant itself (RFC 7523 2.1): how a Google service account
// asks for a token acting for a user.
const JWTBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// grantLifetime is how long a service account's grant may be presented:
// Google takes at most an hour after iat, and its own libraries sign for
// that hour, which forgives a clock that far behind.
const grantLifetime = time.Hour

// createKeyJSON is where a service account's JSON key comes from.
const createKeyJSON = "Google Cloud console > IAM & Admin > Service accounts > the account > Keys > Add key > Create new key > JSON"

// ServiceAccountKey is a Google service account's JSON key, as the Cloud
// console downloads it: who the account is, where it asks for tokens, and
// the private key that signs its grants. It prints as the account and the
// key's ID, never the key.
type ServiceAccountKey struct {
	// ClientEmail is the service account, NAME@PROJECT.iam.gserviceaccount.com.
	ClientEmail string
	// ClientID is its numeric client ID, the one domain-wide delegation
	// is granted to in the Admin console.
	ClientID string
	// KeyID is private_key_id, the key's ID under the account's Keys.
	KeyID    string
	TokenURI string
	key      *rsa.PrivateKey
}

func (k *ServiceAccountKey) String() string {
	return fmt.Sprintf("service account %s (client ID %s), key %s", k.ClientEmail, k.ClientID, k.KeyID)
}

// GoString is String, for %#v.
func (k *ServiceAccountKey) GoString() string { return k.String() }

// LogValue keeps the key out of structured logs.
func (k *ServiceAccountKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// serviceAccountFile is what mailtask reads of a key file, and the
// fields that tell an OAuth client's file given by mistake.
type serviceAccountFile struct {
	Type         string          `json:"type"`
	PrivateKeyID string          `json:"private_key_id"`
	PrivateKey   string          `json:"private_key"`
	ClientEmail  string          `json:"client_email"`
	ClientID     string          `json:"client_id"`
	TokenURI     string          `json:"token_uri"`
	Installed    json.RawMessage `json:"installed"`
	Web          json.RawMessage `json:"web"`
}

// LoadServiceAccountKey reads the account's oauth2.service_account_key_file.
// Errors name the account, the key and the file, and say what the file
// is when it is not a service account's key; never the key's bytes.
func LoadServiceAccountKey(a *config.Account) (*ServiceAccountKey, error) {
	o := a.OAuth2
	if o == nil || o.ServiceAccountKeyFile == "" {
		return nil, fmt.Errorf("account %q: no oauth2.service_account_key_file", a.Name)
	}
	data, err := os.ReadFile(o.ServiceAccountKeyFile)
	if err != nil {
		return nil, fmt.Errorf("account %q: oauth2.service_account_key_file: %w", a.Name, err)
	}
	k, err := parseServiceAccountKey(data)
	if err != nil {
		return nil, fmt.Errorf("account %q: oauth2.service_account_key_file: %s: %w", a.Name, o.ServiceAccountKeyFile, err)
	}
	return k, nil
}

// parseServiceAccountKey reads a key file's content.
func parseServiceAccountKey(data []byte) (*ServiceAccountKey, error) {
	var f serviceAccountFile
	if err := json.Unmarshal(data, &f); err != nil {
		var syntax *json.SyntaxError
		switch {
		case bytes.Contains(data, []byte("-----BEGIN ")):
			return nil, errors.New("holds PEM, not a service account's JSON key: give the JSON key file itself (" + createKeyJSON + ")")
		case len(data) > 0 && data[0] == 0x30: // an ASN.1 SEQUENCE, as PKCS#12 starts
			return nil, errors.New("is not JSON; a .p12 key is Google's legacy format, which mailtask does not read: create a JSON key (" + createKeyJSON + ")")
		case errors.As(err, &syntax):
			// The JSON error's own words may quote the file.
			return nil, fmt.Errorf("is not JSON (at byte %d): it must be a service account's JSON key file (%s)", syntax.Offset, createKeyJSON)
		}
		return nil, errors.New("is not a JSON object with a service account key's fields (" + createKeyJSON + ")")
	}
	switch {
	case f.Installed != nil || f.Web != nil:
		kind := "installed"
		if f.Web != nil {
			kind = "web"
		}
		return nil, fmt.Errorf("is an OAuth client's file (a %q client, the client_secret_....json of APIs & Services > Credentials), not a service account's key: create the service account's JSON key (%s); or, to sign in as a user with this client, use flow = \"authorization_code\" with its client_id and client_secret", kind, createKeyJSON)
	case f.Type == "authorized_user":
		return nil, errors.New(`is a user's credentials ("type": "authorized_user", as gcloud auth application-default login writes them), not a service account's key: create the service account's JSON key (` + createKeyJSON + ")")
	case f.Type != "service_account":
		return nil, fmt.Errorf(`has "type": %q, not "service_account": it must be a service account's JSON key (%s)`, f.Type, createKeyJSON)
	case f.ClientEmail == "":
		return nil, errors.New(`has no "client_email": the key file names its service account there; download the key file again (` + createKeyJSON + ")")
	case f.TokenURI == "":
		return nil, errors.New(`has no "token_uri": the key file names Google's token endpoint there (https://oauth2.googleapis.com/token); download the key file again`)
	case f.PrivateKey == "":
		return nil, errors.New(`has no "private_key": download the key file again (` + createKeyJSON + ")")
	}
	if msg := config.CheckEndpointURL(f.TokenURI); msg != "" {
		return nil, fmt.Errorf(`"token_uri" %q %s`, f.TokenURI, msg)
	}
	key, err := serviceAccountPrivateKey(f.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf(`"private_key" %w`, err)
	}
	return &ServiceAccountKey{ClientEmail: f.ClientEmail, ClientID: f.ClientID, KeyID: f.PrivateKeyID, TokenURI: f.TokenURI, key: key}, nil
}

// serviceAccountPrivateKey reads the PEM key of a key file: PKCS#8 RSA,
// as Google makes them.
func serviceAccountPrivateKey(text string) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode([]byte(text))
	var (
		parsed any
		err    error
	)
	switch {
	case b == nil:
		return nil, errors.New("is not PEM (-----BEGIN PRIVATE KEY-----); download the key file again")
	case b.Type == "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case b.Type == "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("holds a %q block, not a private key", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("does not parse: %w", err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	switch {
	case !ok:
		return nil, fmt.Errorf("is an %s key; Google's service account keys are RSA", keyKind(parsed))
	case key.N.BitLen() < minKeyBits:
		return nil, fmt.Errorf("is a %d-bit RSA key; mailtask signs with %d bits or more", key.N.BitLen(), minKeyBits)
	}
	return key, nil
}

// grantClaims are the claims of a service account's grant, as Google
// takes them: the service account issues it, for the user it acts as
// (sub), the scopes it asks for, and the token endpoint.
type grantClaims struct {
	Iss   string `json:"iss"`
	Sub   string `json:"sub"`
	Scope string `json:"scope"`
	Aud   string `json:"aud"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
}

// grant returns the JWT that asks for a token acting as user with scopes,
// signed RS256 by the key and naming it by kid.
func (k *ServiceAccountKey) grant(user string, scopes []string, now time.Time) (string, error) {
	h := assertionHeader{Alg: "RS256", Typ: "JWT", Kid: k.KeyID}
	c := grantClaims{Iss: k.ClientEmail, Sub: user, Scope: strings.Join(scopes, " "), Aud: k.TokenURI, Iat: now.Unix(), Exp: now.Add(grantLifetime).Unix()}
	jwt, err := signJWT(k.key, h, c)
	if err != nil {
		return "", fmt.Errorf("signing the grant with the service account's key: %w", err)
	}
	return jwt, nil
}
