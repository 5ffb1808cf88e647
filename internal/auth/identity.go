package auth

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// identity names who a sign-in belongs to, from the ID token or else from
// the access token when it is a JWT (Microsoft's are). The signature is
// not checked: the token came straight from the token endpoint over TLS,
// and the name is only shown and compared with the account's username.
func identity(g *grant) string {
	for _, jwt := range []string{g.idToken, string(g.access)} {
		claims := jwtClaims(jwt)
		for _, k := range []string{"preferred_username", "email", "upn", "unique_name"} {
			if v, ok := claims[k].(string); ok && v != "" {
				return v
			}
		}
	}
	return ""
}

// tokenRoles returns the application permissions (the "roles" claim) of a
// JWT access token, or nil; a token that is no JWT says nothing.
func tokenRoles(jwt string) []string {
	roles, _ := jwtClaims(jwt)["roles"].([]any)
	var out []string
	for _, r := range roles {
		if s, ok := r.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// isJWT reports whether token has claims this package can read.
func isJWT(token string) bool { return jwtClaims(token) != nil }

func jwtClaims(jwt string) map[string]any {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var claims map[string]any
	if json.Unmarshal(payload, &claims) != nil {
		return nil
	}
	return claims
}
