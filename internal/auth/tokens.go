package auth

import (
	"context"
	"encoding/json"
	"fmt"
)

// TokenStore keeps the token records of OAuth2 accounts: Store, one file
// per account under state_dir, or cluster mode's database, where every
// node finds them (package cluster).
type TokenStore interface {
	// Load returns the record of k, nil if there is none.
	Load(ctx context.Context, k TokenKey) (*Record, error)
	// Update runs fn on the record of k (nil if none) while nobody else,
	// in this process, another one or on another node, updates it, and
	// stores the record fn returns; nil leaves the store as it is. fn may
	// ask the identity platform for new tokens: a rotating refresh token
	// it spends is spent once. An error of fn is returned as it is, and
	// nothing is stored.
	Update(ctx context.Context, k TokenKey, fn func(current *Record) (*Record, error)) error
	// Forget removes the record of account (`mailtask auth logout`),
	// waiting for an update of it in progress, and reports whether there
	// was one.
	Forget(ctx context.Context, account string) (bool, error)
	// Where says where the tokens of account are kept, for messages.
	Where(account string) string
}

// TokenKey names a record in a TokenStore: an account's tokens, and for
// an app-only account the app whose token it is, which a store may share
// among all the accounts of one app.
type TokenKey struct {
	Account string
	// App is set for app-only (client credentials) tokens.
	App *AppKey
}

// AppKey names an app-only token: the same app (client) in the same
// tenant asking for the same scopes gets a token valid for every mailbox
// it may open, so one cached token serves all of them.
type AppKey struct {
	Tenant, ClientID string
	Scopes           []string
}

// EncodeRecord is r in the store's format, tokens included, for token
// stores that keep records elsewhere than in Store's files (sealed).
func EncodeRecord(r *Record) ([]byte, error) { return json.Marshal(r.file()) }

// DecodeRecord reads a record EncodeRecord wrote.
func DecodeRecord(data []byte) (*Record, error) {
	var f recordFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("the token record does not decode: %w", err)
	}
	return f.record(), nil
}
