package cluster

import (
	"context"
	"fmt"

	"mailtask/internal/auth"
	"mailtask/internal/pgstore"
)

// Tokens is the token store of OAuth2 accounts: the database's, sealed
// with the token key, or nil for the files under state_dir.
// popimap.Shared.
func (n *Node) Tokens() auth.TokenStore {
	if n.store == nil {
		return nil
	}
	return tokens{n.store}
}

// tokens keeps token records in the database: an account's in its row, an
// app-only token in the row of its app (tenant, client, scopes), shared
// by every account of that app. Updates run under the row's lock.
type tokens struct{ store *pgstore.Store }

func (t tokens) Load(ctx context.Context, k auth.TokenKey) (*auth.Record, error) {
	var (
		raw []byte
		err error
	)
	if k.App != nil {
		raw, err = t.store.AppToken(ctx, appKey(k.App))
	} else {
		raw, err = t.store.Token(ctx, k.Account)
	}
	if err != nil || raw == nil {
		return nil, err
	}
	return decode(raw, k)
}

func (t tokens) Update(ctx context.Context, k auth.TokenKey, fn func(*auth.Record) (*auth.Record, error)) error {
	update := func(current []byte) ([]byte, error) {
		var rec *auth.Record
		if current != nil {
			var err error
			if rec, err = decode(current, k); err != nil {
				return nil, err
			}
		}
		next, err := fn(rec)
		if err != nil || next == nil {
			return nil, err
		}
		return auth.EncodeRecord(next)
	}
	if k.App != nil {
		return t.store.UpdateAppToken(ctx, appKey(k.App), update)
	}
	return t.store.UpdateToken(ctx, k.Account, update)
}

func (t tokens) Forget(ctx context.Context, account string) (bool, error) {
	return t.store.ForgetToken(ctx, account)
}

func (t tokens) Where(account string) string {
	return fmt.Sprintf("the database of state_store (account %q, sealed with the token key)", account)
}

func appKey(a *auth.AppKey) pgstore.AppTokenKey {
	return pgstore.AppTokenKey{Tenant: a.Tenant, ClientID: a.ClientID, Scopes: a.Scopes}
}

func decode(raw []byte, k auth.TokenKey) (*auth.Record, error) {
	rec, err := auth.DecodeRecord(raw)
	if err != nil {
		return nil, fmt.Errorf("the tokens of account %q in the database: %w; run `mailtask auth login %s`", k.Account, err, k.Account)
	}
	return rec, nil
}
