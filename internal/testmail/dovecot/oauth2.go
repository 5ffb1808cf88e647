package dovecot

import "fmt"

// OAuth2 returns Options for a Dovecot that takes tokens over mechanisms
// ("xoauth2 oauthbearer", beside plain and login), checked by an oauth2
// passdb against an RFC 7662 introspection endpoint (the test identity
// provider's), as a mail server that trusts an identity platform does.
func OAuth2(introspectURL, mechanisms string) Options {
	return Options{
		Files: map[string]string{"dovecot-oauth2.conf.ext": fmt.Sprintf(`introspection_mode = post
introspection_url = %s
username_attribute = username
active_attribute = active
active_value = true
force_introspection = yes
`, introspectURL)},
		Extra: `auth_mechanisms = plain login ` + mechanisms + `
passdb {
  driver = oauth2
  mechanisms = ` + mechanisms + `
  args = {DIR}/dovecot-oauth2.conf.ext
}`,
	}
}
