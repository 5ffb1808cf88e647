package pgstore

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitForLockWaiter returns once some session of the database at url waits
// on a row lock: the state a second refresh is in while the first holds
// the token's row.
func waitForLockWaiter(ctx context.Context, url string) error {
	// Bounded: without the row lock nobody ever waits.
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, err := adminConnect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for {
		var waiting int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			return err
		}
		if waiting > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestTokenRefreshesAreSerialisedAcrossNodes(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	a, b := openNode(t, url, "a"), openNode(t, url, "b")
	if err := a.UpdateToken(ctx, "acct", func([]byte) ([]byte, error) { return []byte("refresh-token-1"), nil }); err != nil {
		t.Fatal(err)
	}
	var (
		refreshes atomic.Int32
		spent     sync.Map // refresh tokens already redeemed
		entered   = make(chan struct{}, 2)
	)
	// What auth does: a token that is still the one we started from is
	// spent (once: the identity platform refuses a rotated token twice)
	// and replaced; one another node replaced already is reused.
	refresh := func(cur []byte) ([]byte, error) {
		entered <- struct{}{}
		if !bytes.Equal(cur, []byte("refresh-token-1")) {
			return nil, nil
		}
		if _, dup := spent.LoadOrStore(string(cur), true); dup {
			return nil, errors.New("invalid_grant: the refresh token was already redeemed")
		}
		refreshes.Add(1)
		// Hold the row until the other node is seen waiting for it.
		if err := waitForLockWaiter(ctx, url); err != nil {
			return nil, err
		}
		return []byte("refresh-token-2"), nil
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*Store{a, b} {
		wg.Go(func() { errs[i] = s.UpdateToken(ctx, "acct", refresh) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := refreshes.Load(); n != 1 {
		t.Fatalf("the refresh token was spent %d times, want once", n)
	}
	if len(entered) != 2 {
		t.Fatalf("the update ran %d times, want twice (once to refresh, once to see it refreshed)", len(entered))
	}
	got, err := b.Token(ctx, "acct")
	if err != nil || string(got) != "refresh-token-2" {
		t.Fatalf("stored token %q, %v", got, err)
	}
}

func TestTokensAreSealedAndNeedTheRightKey(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "n")
	secret := []byte(`{"refresh_token":"very-secret-refresh-token"}`)
	if err := s.UpdateToken(ctx, "acct", func([]byte) ([]byte, error) { return secret, nil }); err != nil {
		t.Fatal(err)
	}
	if n := count(t, url, "SELECT count(*) FROM oauth_tokens WHERE position($1::bytea in sealed) > 0", []byte("very-secret")); n != 0 {
		t.Fatal("the token is stored in clear")
	}
	if got, err := s.Token(ctx, "acct"); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Token: %q, %v", got, err)
	}
	if got, err := s.Token(ctx, "nobody"); err != nil || got != nil {
		t.Fatalf("Token of an account without one: %q, %v", got, err)
	}

	wrong, err := Open(ctx, Options{URL: url, Node: "w", TokenKey: bytes.Repeat([]byte{7}, 32), TokenKeySetting: "token_key_file /etc/mailtask/key"})
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	_, err = wrong.Token(ctx, "acct")
	if !errors.Is(err, ErrTokenKey) || !strings.Contains(err.Error(), "token_key_file /etc/mailtask/key") || !strings.Contains(err.Error(), `"acct"`) {
		t.Fatalf("Token with the wrong key: %v; want ErrTokenKey naming the key setting and the account", err)
	}
	called := false
	err = wrong.UpdateToken(ctx, "acct", func([]byte) ([]byte, error) { called = true; return []byte("x"), nil })
	if !errors.Is(err, ErrTokenKey) || called {
		t.Fatalf("UpdateToken with the wrong key: %v (update ran: %v); want ErrTokenKey before anything runs", err, called)
	}
	if strings.Contains(err.Error(), "very-secret") {
		t.Fatal("an error shows the token")
	}

	// A sealed value copied to another account's row does not open.
	sql(t, url, "INSERT INTO oauth_tokens (account, sealed) SELECT 'thief', sealed FROM oauth_tokens WHERE account = 'acct'")
	if _, err := s.Token(ctx, "thief"); !errors.Is(err, ErrTokenKey) {
		t.Fatalf("a token moved to another account's row: %v, want ErrTokenKey", err)
	}

	if _, err := Open(ctx, Options{URL: url, TokenKey: []byte("short"), TokenKeySetting: "token_key_env K"}); err == nil || !strings.Contains(err.Error(), "token_key_env K") || !strings.Contains(err.Error(), "32") {
		t.Fatalf("Open with a 5-byte key: %v; want an error naming the setting and the size", err)
	}
	none, err := Open(ctx, Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer none.Close()
	if _, err := none.Token(ctx, "acct"); err == nil || !strings.Contains(err.Error(), "token_key_env") {
		t.Fatalf("Token without a key: %v; want an error naming token_key_env", err)
	}
}

// `mailtask auth logout` removes an account's row, whichever key sealed
// it: a node that cannot open a token can still take it away.
func TestForgetTokenRemovesTheRow(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "n")
	if err := s.UpdateToken(ctx, "acct", func([]byte) ([]byte, error) { return []byte(`{"refresh_token":"rt"}`), nil }); err != nil {
		t.Fatal(err)
	}
	other, err := Open(ctx, Options{URL: url, Node: "o", TokenKey: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if had, err := other.ForgetToken(ctx, "acct"); err != nil || !had {
		t.Fatalf("ForgetToken: %v, %v; want the row gone", had, err)
	}
	if got, err := s.Token(ctx, "acct"); err != nil || got != nil {
		t.Errorf("Token after ForgetToken: %q, %v", got, err)
	}
	if had, err := s.ForgetToken(ctx, "acct"); err != nil || had {
		t.Errorf("ForgetToken again: %v, %v; want nothing to remove", had, err)
	}
}

func TestAppTokensAreSharedPerTenantClientAndScopes(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	a, b := openNode(t, url, "a"), openNode(t, url, "b")
	k := AppTokenKey{Tenant: "contoso.onmicrosoft.com", ClientID: "app-1", Scopes: []string{"s2", "s1"}}
	if err := a.UpdateAppToken(ctx, k, func(cur []byte) ([]byte, error) { return []byte("app-token"), nil }); err != nil {
		t.Fatal(err)
	}
	same := AppTokenKey{Tenant: k.Tenant, ClientID: k.ClientID, Scopes: []string{"s1", "s2"}}
	if got, err := b.AppToken(ctx, same); err != nil || string(got) != "app-token" {
		t.Fatalf("the same app's token from another node: %q, %v", got, err)
	}
	if got, err := b.AppToken(ctx, AppTokenKey{Tenant: "fabrikam.com", ClientID: "app-1", Scopes: k.Scopes}); err != nil || got != nil {
		t.Fatalf("another tenant's token: %q, %v; want none", got, err)
	}
}
