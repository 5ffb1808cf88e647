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
	return s.readSealed(ctx, accountRow(account), accountTokens, account)
}

// UpdateToken runs fn on account's token record under the row's lock and
// stores what it returns, sealed.
func (s *Store) UpdateToken(ctx context.Context, account string, fn TokenUpdate) error {
	return s.updateSealed(ctx, accountRow(account), accountTokens, fn, account)
}

// ForgetToken removes account's token record (`mailtask auth logout`),
// and reports whether there was one. A refresh holding the row's lock is
// waited for, and what it stored goes too.
func (s *Store) ForgetToken(ctx context.Context, account string) (bool, error) {
	var had bool
	err := s.pool.QueryRow(ctx, "DELETE FROM oauth_tokens WHERE account = $1 RETURNING sealed IS NOT NULL", account).Scan(&had)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("remove the tokens of account %q: %w", account, err)
	}
	return had, nil
}

// tokenTable holds the statements of one table of sealed tokens; each
// takes the row's key as its first arguments, and update takes the sealed
// value as one more (nil empties the row).
type tokenTable struct {
	read, insert, lock, update string
}

var (
	accountTokens = tokenTable{
		read:   "SELECT sealed FROM oauth_tokens WHERE account = $1",
		insert: "INSERT INTO oauth_tokens (account) VALUES ($1) ON CONFLICT DO NOTHING",
		lock:   "SELECT sealed FROM oauth_tokens WHERE account = $1 FOR UPDATE",
		update: "UPDATE oauth_tokens SET sealed = $2, updated_at = now() WHERE account = $1",
	}
	appTokens = tokenTable{
		read:   "SELECT sealed FROM app_tokens WHERE tenant = $1 AND client_id = $2 AND scopes = $3",
		insert: "INSERT INTO app_tokens (tenant, client_id, scopes) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
		lock:   "SELECT sealed FROM app_tokens WHERE tenant = $1 AND client_id = $2 AND scopes = $3 FOR UPDATE",
		update: "UPDATE app_tokens SET sealed = $4, updated_at = now() WHERE tenant = $1 AND client_id = $2 AND scopes = $3",
	}
)

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
	return s.readSealed(ctx, appRow(k), appTokens, k.Tenant, k.ClientID, k.scopes())
}

// UpdateAppToken runs fn on the cached app-only token of k under the
// row's lock, so that nodes needing a new one at once ask the identity
// platform once, and stores what it returns, sealed.
func (s *Store) UpdateAppToken(ctx context.Context, k AppTokenKey, fn TokenUpdate) error {
	return s.updateSealed(ctx, appRow(k), appTokens, fn, k.Tenant, k.ClientID, k.scopes())
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

func (s *Store) readSealed(ctx context.Context, row sealedRow, t tokenTable, args ...any) ([]byte, error) {
	if s.seal == nil {
		return nil, s.errNoTokenKey(row)
	}
	var sealed []byte
	err := s.pool.QueryRow(ctx, t.read, args...).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && sealed == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", row.what, err)
	}
	// A row under the previous key is sealed anew by the next update,
	// which holds its lock; a read does not, and writing here could put
	// back what a refresh on another node has just replaced.
	plain, _, err := s.seal.open(sealed, row.aad, row.what)
	return plain, err
}

// updateSealed makes sure the row exists, and runs lockedUpdate.
func (s *Store) updateSealed(ctx context.Context, row sealedRow, t tokenTable, fn TokenUpdate, args ...any) error {
	_, err := s.lockedUpdate(ctx, row, t, lockCreate, fn, args...)
	return err
}

// rowOutcome is what lockedUpdate found and left.
type rowOutcome int

const (
	rowAbsent   rowOutcome = iota // no row, or one without tokens, left so
	rowCurrent                    // under the current key, as fn left it
	rowResealed                   // under another key or format, sealed anew
	rowCleared                    // opened with no key, and emptied (lockClearUnreadable)
)

// lockMode says what lockedUpdate does besides its update.
type lockMode int

const (
	// lockCreate inserts the row first if it is missing.
	lockCreate lockMode = iota
	// lockExisting leaves a missing row missing.
	lockExisting
	// lockClearUnreadable is lockExisting, and empties a row that opens
	// with none of the keys instead of failing: for a cache, which the
	// nodes fill again.
	lockClearUnreadable
)

// lockedUpdate locks the row (as mode says), hands its content to fn and
// stores fn's answer, all in one transaction. A row
// that opened with the previous key, or is in the older format, is
// sealed anew with the current key even when fn changes nothing: the
// lock makes that safe against another node's refresh, and the previous
// key can be retired the sooner.
func (s *Store) lockedUpdate(ctx context.Context, row sealedRow, t tokenTable, mode lockMode, fn TokenUpdate, args ...any) (rowOutcome, error) {
	if s.seal == nil {
		return rowAbsent, s.errNoTokenKey(row)
	}
	var (
		fnErr   error
		outcome rowOutcome
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		outcome = rowAbsent
		if _, err := tx.Exec(ctx, "SET LOCAL idle_in_transaction_session_timeout = '"+refreshTimeout+"'"); err != nil {
			return err
		}
		if mode == lockCreate {
			if _, err := tx.Exec(ctx, t.insert, args...); err != nil {
				return err
			}
		}
		var sealed []byte
		err := tx.QueryRow(ctx, t.lock, args...).Scan(&sealed)
		if errors.Is(err, pgx.ErrNoRows) && mode != lockCreate {
			return nil
		}
		if err != nil {
			return err
		}
		var (
			current []byte
			stale   bool
		)
		if sealed != nil {
			current, stale, err = s.seal.open(sealed, row.aad, row.what)
			if err != nil && mode == lockClearUnreadable && errors.Is(err, ErrTokenKey) {
				outcome = rowCleared
				_, err = tx.Exec(ctx, t.update, append(args, []byte(nil))...)
				return err
			}
			if err != nil {
				fnErr = err
				return err
			}
			outcome = rowCurrent
		}
		next, err := fn(current)
		if err != nil {
			fnErr = err
			return err
		}
		switch {
		case next == nil && !stale:
			return nil
		case next == nil:
			next = current
		}
		outcome = rowCurrent
		if stale {
			outcome = rowResealed
		}
		_, err = tx.Exec(ctx, t.update, append(args, s.seal.seal(next, row.aad))...)
		return err
	})
	if fnErr != nil {
		return rowAbsent, fnErr // fn's own error, or keys that do not open the row
	}
	if err != nil {
		return rowAbsent, fmt.Errorf("update %s: %w", row.what, err)
	}
	return outcome, nil
}
