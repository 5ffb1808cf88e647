package auth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Error is a failed request to an identity platform: a refusal with the
// platform's error code and description (which carries Microsoft's
// AADSTS number), or a transport failure. It never holds a secret.
type Error struct {
	Account string
	Op      string // "token refresh", "sign-in", "app-only token", "device code"
	Host    string // the identity endpoint's host
	// Code and Description are the OAuth2 error ("invalid_grant") and its
	// text; Status is the HTTP status.
	Code        string
	Description string
	Status      int
	// Err is a transport failure (no reply to read).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "account %q: %s at %s failed", e.Account, e.Op, e.Host)
	switch {
	case e.Err != nil:
		fmt.Fprintf(&b, ": %v", e.Err)
	case e.Code != "" && e.Description != "":
		fmt.Fprintf(&b, ": %s: %s", e.Code, e.Description)
	case e.Code != "":
		fmt.Fprintf(&b, ": %s", e.Code)
	default:
		fmt.Fprintf(&b, ": HTTP status %d", e.Status)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ServerHost is the identity endpoint's host, for hints that hold only for
// Microsoft's.
func (e *Error) ServerHost() string { return e.Host }

// Temporary reports whether the same request may well succeed later: the
// platform could not be reached or failed on its side.
func (e *Error) Temporary() bool { return e.Err != nil || e.Status >= 500 || e.Status == 429 }

// NotSignedInError means a delegated account has no usable refresh token:
// someone must sign in once with `mailtask auth login`.
type NotSignedInError struct {
	Account string
	Reason  string
}

func (e *NotSignedInError) Error() string {
	return fmt.Sprintf("account %q: %s; sign in with `mailtask auth login %s`", e.Account, e.Reason, e.Account)
}

// NoReturnError means a browser sign-in never came back to the redirect
// URL before the wait ended: the platform showed an error on its own page,
// or nobody finished signing in.
type NoReturnError struct {
	Account     string
	RedirectURL string
}

func (e *NoReturnError) Error() string {
	return fmt.Sprintf("account %q: no browser came back to %s with a sign-in before the wait ended; the identity platform shows some errors on its own page and never sends the browser back", e.Account, e.RedirectURL)
}

func (e *NoReturnError) Unwrap() error { return ErrWaitEnded }

// ErrWaitEnded is in the chain of a sign-in that nobody completed before
// the caller's deadline: no server was slow, the user was.
var ErrWaitEnded = errors.New("the wait for the sign-in ended")

// IsTemporary reports whether err is an identity-platform failure worth
// retrying unchanged.
func IsTemporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Temporary()
}

// hostOf names an endpoint in messages without its query, which for some
// providers carries more than a host should show.
func hostOf(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "the identity endpoint"
	}
	return u.Host
}
