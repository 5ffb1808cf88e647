package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// A token key's rotation: nodes get the new key as their token key and
// the old one as their previous key; each update seals a row anew with
// the new key; ResealTokens does the rest at once; CountSealed tells when
// no row needs the old key any more.

// TokenKeyIDs are the identifiers of the store's current and previous
// token keys ("" for none), as sealed rows carry them.
func (s *Store) TokenKeyIDs() (current, previous string) {
	if s.seal == nil {
		return "", ""
	}
	current = s.seal.current.idString()
	if s.seal.previous != nil {
		previous = s.seal.previous.idString()
	}
	return current, previous
}

// SealedCounts counts the token rows (accounts' and app-only) by what
// sealed them.
type SealedCounts struct {
	Current  int // with the current key
	Previous int // with the previous key
	Other    int // with another key, or in the format before key identifiers
}

// CountSealed counts the token rows by the key identifier they carry,
// without opening them.
func (s *Store) CountSealed(ctx context.Context) (SealedCounts, error) {
	var c SealedCounts
	if s.seal == nil {
		return c, errors.New("no token key is configured: set token_key_env or token_key_file")
	}
	var previous []byte
	if s.seal.previous != nil {
		previous = sealHead(s.seal.previous)
	}
	var total int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE substring(sealed FROM 1 FOR $3) = $1),
			count(*) FILTER (WHERE substring(sealed FROM 1 FOR $3) = $2), count(*)
		FROM (SELECT sealed FROM oauth_tokens UNION ALL SELECT sealed FROM app_tokens) t
		WHERE sealed IS NOT NULL`,
		sealHead(s.seal.current), previous, 1+keyIDSize).Scan(&c.Current, &c.Previous, &total)
	if err != nil {
		return c, fmt.Errorf("count the sealed tokens: %w", err)
	}
	c.Other = total - c.Current - c.Previous
	return c, nil
}

// sealHead is how the rows sealed now with k begin.
func sealHead(k *sealKey) []byte { return append([]byte{sealVersion}, k.id[:]...) }

// Resealed is what ResealTokens did.
type Resealed struct {
	Resealed int // rows sealed anew with the current key
	Current  int // rows already under it
	// Unreadable are the accounts whose tokens open with no key of this
	// node, and why: they need `mailtask auth login`.
	Unreadable []Unreadable
	// Cleared describes the app-only tokens that opened with no key:
	// they are a cache, emptied so that the nodes fetch new ones.
	Cleared []string
}

// Unreadable is an account whose tokens no key opens.
type Unreadable struct {
	Account string
	Err     error // wraps ErrTokenKey
}

// ResealTokens seals every token row not yet under the current key
// anew with it, so that the previous key can be retired. Each row is
// locked and sealed in a transaction of its own, like a refresh, so a
// refresh on another node meanwhile waits for it or is waited for, and
// nothing it writes is lost. Running it again finds nothing to do.
func (s *Store) ResealTokens(ctx context.Context) (Resealed, error) {
	var r Resealed
	if s.seal == nil {
		return r, errors.New("no token key is configured: set token_key_env or token_key_file")
	}
	head := sealHead(s.seal.current)
	accounts, current, err := s.staleKeys(ctx, `SELECT account, substring(sealed FROM 1 FOR $2) = $1
		FROM oauth_tokens WHERE sealed IS NOT NULL ORDER BY account`, head)
	if err != nil {
		return r, err
	}
	r.Current += current
	apps, current, err := s.staleKeys(ctx, `SELECT tenant, client_id, scopes, substring(sealed FROM 1 FOR $2) = $1
		FROM app_tokens WHERE sealed IS NOT NULL ORDER BY tenant, client_id, scopes`, head)
	if err != nil {
		return r, err
	}
	r.Current += current
	unchanged := func([]byte) ([]byte, error) { return nil, nil }
	for _, k := range accounts {
		account := k[0]
		got, err := s.lockedUpdate(ctx, accountRow(account), accountTokens, lockExisting, unchanged, account)
		if errors.Is(err, ErrTokenKey) {
			r.Unreadable = append(r.Unreadable, Unreadable{account, err})
			continue
		}
		if err != nil {
			return r, err
		}
		r.count(got, "")
	}
	for _, k := range apps {
		app := AppTokenKey{Tenant: k[0], ClientID: k[1], Scopes: strings.Fields(k[2])}
		row := appRow(app)
		got, err := s.lockedUpdate(ctx, row, appTokens, lockClearUnreadable, unchanged, k[0], k[1], k[2])
		if err != nil {
			return r, err
		}
		r.count(got, row.what)
	}
	return r, nil
}

func (r *Resealed) count(o rowOutcome, what string) {
	switch o {
	case rowResealed:
		r.Resealed++
	case rowCurrent:
		r.Current++
	case rowCleared:
		r.Cleared = append(r.Cleared, what)
	}
}

// staleKeys runs query, whose rows are a table's key columns followed by
// whether the row is sealed with the current key, and returns the keys
// of the others and how many are.
func (s *Store) staleKeys(ctx context.Context, query string, head []byte) (stale [][]string, current int, err error) {
	rows, err := s.pool.Query(ctx, query, head, len(head))
	if err != nil {
		return nil, 0, fmt.Errorf("list the sealed tokens: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, 0, fmt.Errorf("list the sealed tokens: %w", err)
		}
		if vals[len(vals)-1].(bool) {
			current++
			continue
		}
		key := make([]string, len(vals)-1)
		for i, v := range vals[:len(vals)-1] {
			key[i] = v.(string)
		}
		stale = append(stale, key)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list the sealed tokens: %w", err)
	}
	return stale, current, nil
}
