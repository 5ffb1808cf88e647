// Package auth owns how mailtask signs in to mailboxes: credentials
// (a password, or OAuth2 tokens), the SASL clients that carry tokens
// (XOAUTH2, which go-sasl lacks, and an OAUTHBEARER that answers failure
// challenges), the OAuth2 flows (authorization code with PKCE through a
// local listener, device code, client credentials, refresh), provider
// presets for Microsoft 365 and Google, how the app proves itself in a
// token request (a client secret, or a client assertion signed with its
// certificate's key, RFC 7523: clientcert.go, assertion.go), a Google
// service account acting as each mailbox's user with a JWT its key signs
// (RFC 7523's JWT bearer grant, a token per mailbox: serviceaccount.go),
// and the token store: one 0600 file per account under state_dir/tokens, replaced
// atomically and guarded by a lock, so that rotated refresh tokens are
// never lost or spent twice.
//
// Mailbox sessions see only a Credential; the pipeline never knows which
// kind it carries.
package auth
