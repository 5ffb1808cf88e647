package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// refreshTimeout bounds, for the transaction of a token update, how long
// it may sit idle while fn talks to the identity platform (which the
// account's timeout bounds first).
const refreshTimeout = "5min"

// TokenUpdate is given what the store holds (nil if nothing) and returns
// what it should hold from now on (nil: leave it as it is). It runs while
// the row is locked across the cluster, so it may spend a rotating
// refresh token: no other node's update of the row runs until it returns
// and its result is committed.
type TokenUpdate func(current []byte) (next []byte, err error)

// Token returns the token record of account as the auth package stored it
// (nil if none), decrypted.
func (s *Store) Token(ctx context.Context, account string) ([]byte, error) {
	return s.readSealed(ctx, accountRow(account),
		"SELECT sealed FROM oauth_tokens WHERE account = $1", account)
}

// UpdateToken runs fn on account's token record under the row's lock and
// stores what it returns, sealed.
func (s *Store) UpdateToken(ctx context.Context, account string, fn TokenUpdate) error {
	return s.updateSealed(ctx, accountRow(account), fn,
		"INSERT INTO oauth_tokens (account) VALUES ($1) ON CONFLICT DO NOTHING",
		"SELECT sealed FROM oauth_tokens WHERE account = $1 FOR UPDATE",
		"UPDATE oauth_tokens SET sealed = $2, updated_at = now() WHERE account = $1",
		account)
}

// AppTokenKey names an app-only token: the same app (client) in the same
// tenant with the same scopes gets one token, shared by all its
// mailboxes.
type AppTokenKey struct {
	Tenant, ClientID string
	Scopes           []string
}

func (k AppTokenKey) scopes() string {
	s := slices.Clone(k.Scopes)
	slices.Sort(s)
	return strings.Join(s, " ")
}

// AppToken returns the cached app-only token of k (nil if none),
// decrypted.
func (s *Store) AppToken(ctx context.Context, k AppTokenKey) ([]byte, error) {
	return s.readSealed(ctx, appRow(k),
		"SELECT sealed FROM app_tokens WHERE tenant = $1 AND client_id = $2 AND scopes = $3",
		k.Tenant, k.ClientID, k.scopes())
}

// UpdateAppToken runs fn on the cached app-only token of k under the
// row's lock, so that nodes needing a new one at once ask the identity
// platform once, and stores what it returns, sealed.
func (s *Store) UpdateAppToken(ctx context.Context, k AppTokenKey, fn TokenUpdate) error {
	return s.updateSealed(ctx, appRow(k), fn,
		"INSERT INTO app_tokens (tenant, client_id, scopes) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
		"SELECT sealed FROM app_tokens WHERE tenant = $1 AND client_id = $2 AND scopes = $3 FOR UPDATE",
		"UPDATE app_tokens SET sealed = $4, updated_at = now() WHERE tenant = $1 AND client_id = $2 AND scopes = $3",
		k.Tenant, k.ClientID, k.scopes())
}

// sealedRow names a token row: aad binds its ciphertext to it, what names
// it in errors.
type sealedRow struct{ aad, what string }

func accountRow(account string) sealedRow {
	return sealedRow{aad: "oauth_tokens\x00" + account, what: fmt.Sprintf("the tokens of account %q", account)}
}

func appRow(k AppTokenKey) sealedRow {
	return sealedRow{
		aad:  "app_tokens\x00" + k.Tenant + "\x00" + k.ClientID + "\x00" + k.scopes(),
		what: fmt.Sprintf("the app-only token of client %s in tenant %q", k.ClientID, k.Tenant),
	}
}

// errNoTokenKey is the token operations' error without a key.
func (s *Store) errNoTokenKey(row sealedRow) error {
	return fmt.Errorf("%s: the database keeps tokens encrypted, and no token key is configured: set token_key_env or token_key_file", row.what)
}

func (s *Store) readSealed(ctx context.Context, row sealedRow, query string, args ...any) ([]byte, error) {
	if s.seal == nil {
		return nil, s.errNoTokenKey(row)
	}
	var sealed []byte
	err := s.pool.QueryRow(ctx, query, args...).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && sealed == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", row.what, err)
	}
	return s.seal.open(sealed, row.aad, row.what)
}

// updateSealed makes sure the row exists, locks it, hands its content to
// fn and stores fn's answer, all in one transaction. insert, lock and
// update take args; update takes the sealed value as one more.
func (s *Store) updateSealed(ctx context.Context, row sealedRow, fn TokenUpdate, insert, lock, update string, args ...any) error {
	if s.seal == nil {
		return s.errNoTokenKey(row)
	}
	var fnErr error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL idle_in_transaction_session_timeout = '"+refreshTimeout+"'"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, insert, args...); err != nil {
			return err
		}
		var sealed []byte
		if err := tx.QueryRow(ctx, lock, args...).Scan(&sealed); err != nil {
			return err
		}
		var current []byte
		if sealed != nil {
			var err error
			if current, err = s.seal.open(sealed, row.aad, row.what); err != nil {
				fnErr = err
				return err
			}
		}
		next, err := fn(current)
		if err != nil {
			fnErr = err
			return err
		}
		if next == nil {
			return nil
		}
		_, err = tx.Exec(ctx, update, append(args, s.seal.seal(next, row.aad))...)
		return err
	})
	if fnErr != nil {
		return fnErr // fn's own error, or a key that does not open the row
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", row.what, err)
	}
	return nil
}
