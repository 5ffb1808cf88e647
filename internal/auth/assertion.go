package auth

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// ClientAssertionType is the client_assertion_type of a JWT signed by the
// client (RFC 7523 2.2), which a certificate credential sends in place
// of client_secret.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime is how long an assertion may be presented: Microsoft
// asks for 5 to 10 minutes after nbf at most; MSAL uses 10, which leaves
// room for a slow request and a clock a little behind.
const assertionLifetime = 10 * time.Minute

// assertionHeader is the JOSE header of the JWTs mailtask signs. Microsoft's
// certificate credentials name the certificate by its thumbprint,
// x5t#S256 (SHA-256) with PS256 as Microsoft documents it now and MSAL
// sends it to Entra, or x5t (SHA-1) with RS256, the older form that ADFS
// and other RFC 7523 servers take. A Google service account names its key
// by kid, the private_key_id of its key file, with RS256.
type assertionHeader struct {
	Alg     string `json:"alg"`
	Typ     string `json:"typ"`
	Kid     string `json:"kid,omitempty"`
	X5t     string `json:"x5t,omitempty"`
	X5tS256 string `json:"x5t#S256,omitempty"`
}

// assertionClaims are RFC 7523's claims of a client assertion: the app is
// both issuer and subject, the token endpoint the audience.
type assertionClaims struct {
	Aud string `json:"aud"`
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Jti string `json:"jti"`
	Nbf int64  `json:"nbf"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

// assertion returns a client assertion for clientID at tokenURL, valid
// from now for assertionLifetime, with a fresh jti. pss selects PS256
// and x5t#S256 (Microsoft Entra ID, in every cloud) over RS256 and x5t
// (other servers).
func (c *ClientCertificate) assertion(tokenURL, clientID string, now time.Time, pss bool) (string, error) {
	h := assertionHeader{Alg: "RS256", Typ: "JWT"}
	if pss {
		sum := sha256.Sum256(c.Cert.Raw)
		h.Alg, h.X5tS256 = "PS256", base64.RawURLEncoding.EncodeToString(sum[:])
	} else {
		sum := sha1.Sum(c.Cert.Raw)
		h.X5t = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	claims := assertionClaims{
		Aud: tokenURL, Iss: clientID, Sub: clientID, Jti: newJTI(),
		Nbf: now.Unix(), Iat: now.Unix(), Exp: now.Add(assertionLifetime).Unix(),
	}
	jwt, err := signJWT(c.key, h, claims)
	if err != nil {
		return "", fmt.Errorf("signing the client assertion with the certificate's key: %w", err)
	}
	return jwt, nil
}

// signJWT returns the JWT of header and claims signed with key, by the
// algorithm header names: RS256 or PS256.
func signJWT(key *rsa.PrivateKey, header assertionHeader, claims any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signing))
	var sig []byte
	switch header.Alg {
	case "PS256":
		// RFC 7518 3.5: the salt is as long as the hash.
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "RS256":
		sig, err = rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	default:
		err = fmt.Errorf("no signer for alg %q", header.Alg)
	}
	if err != nil {
		return "", err
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// newJTI is a random UUID (version 4), the form Microsoft shows for jti.
func newJTI() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
