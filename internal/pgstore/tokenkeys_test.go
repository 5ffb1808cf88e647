package pgstore

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// openKeys opens the store at url as node with the token key current
// and the previous key previous (nil for none).
func openKeys(t *testing.T, url, node string, current, previous []byte) *Store {
	t.Helper()
	s, err := Open(testContext(t), Options{URL: url, Node: node,
		TokenKey: current, TokenKeySetting: "token_key_env NEW_KEY",
		PreviousTokenKey: previous, PreviousTokenKeySetting: "token_key_previous_env OLD_KEY"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func set(v string) TokenUpdate { return func([]byte) ([]byte, error) { return []byte(v), nil } }

func unchanged([]byte) ([]byte, error) { return nil, nil }

func TestARotationMovesEveryTokenToTheNewKey(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	onlyA, rotated, onlyB := openKeys(t, url, "a", keyA, nil), openKeys(t, url, "ba", keyB, keyA), openKeys(t, url, "b", keyB, nil)
	app := AppTokenKey{Tenant: "contoso.com", ClientID: "app-1", Scopes: []string{"s2", "s1"}}
	for _, acct := range []string{"acct1", "acct2"} {
		if err := onlyA.UpdateToken(ctx, acct, set("token of "+acct)); err != nil {
			t.Fatal(err)
		}
	}
	if err := onlyA.UpdateAppToken(ctx, app, set("app token")); err != nil {
		t.Fatal(err)
	}
	// A row of the release before key identifiers, sealed with the old key.
	sql(t, url, "INSERT INTO oauth_tokens (account, sealed) VALUES ('acct3', $1)", sealV1With(t, keyA, []byte("token of acct3"), accountRow("acct3").aad))

	for _, acct := range []string{"acct1", "acct2", "acct3"} {
		if got, err := rotated.Token(ctx, acct); err != nil || string(got) != "token of "+acct {
			t.Fatalf("%s under the previous key: %q, %v", acct, got, err)
		}
	}
	if c, err := rotated.CountSealed(ctx); err != nil || c != (SealedCounts{Previous: 3, Other: 1}) {
		t.Fatalf("CountSealed before any update: %+v, %v; want 3 under the previous key, 1 in the older format", c, err)
	}

	// An update that changes nothing seals the row anew all the same.
	if err := rotated.UpdateToken(ctx, "acct1", unchanged); err != nil {
		t.Fatal(err)
	}
	if got, err := onlyB.Token(ctx, "acct1"); err != nil || string(got) != "token of acct1" {
		t.Fatalf("acct1 after an update on a rotated node, on a node with the new key only: %q, %v", got, err)
	}
	if _, err := onlyB.Token(ctx, "acct2"); !errors.Is(err, ErrTokenKey) {
		t.Fatalf("acct2, not updated yet, on a node with the new key only: %v; want ErrTokenKey", err)
	}

	r, err := rotated.ResealTokens(ctx)
	if err != nil || r.Resealed != 3 || r.Current != 1 || r.Unreadable != nil || r.Cleared != nil {
		t.Fatalf("ResealTokens: %+v, %v; want 3 sealed anew, 1 already", r, err)
	}
	for _, acct := range []string{"acct1", "acct2", "acct3"} {
		if got, err := onlyB.Token(ctx, acct); err != nil || string(got) != "token of "+acct {
			t.Fatalf("%s after the reseal, with the new key only: %q, %v", acct, got, err)
		}
	}
	if got, err := onlyB.AppToken(ctx, app); err != nil || string(got) != "app token" {
		t.Fatalf("the app-only token after the reseal, with the new key only: %q, %v", got, err)
	}
	if c, err := onlyB.CountSealed(ctx); err != nil || c != (SealedCounts{Current: 4}) {
		t.Fatalf("CountSealed after the reseal: %+v, %v; want 4 under the current key", c, err)
	}
	if r, err := rotated.ResealTokens(ctx); err != nil || r.Resealed != 0 || r.Current != 4 {
		t.Fatalf("ResealTokens again: %+v, %v; want nothing to do", r, err)
	}
	if _, err := onlyA.Token(ctx, "acct2"); !errors.Is(err, ErrTokenKey) || !strings.Contains(err.Error(), "token_key_env NEW_KEY") {
		t.Fatalf("a node with the old key only, after the reseal: %v; want ErrTokenKey naming its setting", err)
	}
}

func TestResealNamesTheTokensNoKeyOpens(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	other, rotated := openKeys(t, url, "c", keyC, nil), openKeys(t, url, "ba", keyB, keyA)
	app := AppTokenKey{Tenant: "contoso.com", ClientID: "app-1", Scopes: []string{"s1"}}
	if err := other.UpdateToken(ctx, "lost", set("token")); err != nil {
		t.Fatal(err)
	}
	if err := other.UpdateAppToken(ctx, app, set("app token")); err != nil {
		t.Fatal(err)
	}
	if err := rotated.UpdateToken(ctx, "fine", set("token")); err != nil {
		t.Fatal(err)
	}
	r, err := rotated.ResealTokens(ctx)
	if err != nil || r.Current != 1 || r.Resealed != 0 || len(r.Unreadable) != 1 || r.Unreadable[0].Account != "lost" || len(r.Cleared) != 1 || !strings.Contains(r.Cleared[0], "app-1") {
		t.Fatalf("ResealTokens: %+v, %v; want account lost unreadable, the app-only token cleared", r, err)
	}
	if err := r.Unreadable[0].Err; !errors.Is(err, ErrTokenKey) || !strings.Contains(err.Error(), TokenKeyID(keyC)) {
		t.Fatalf("the error of account lost: %v; want ErrTokenKey naming the key that sealed it", err)
	}
	if got, err := rotated.AppToken(ctx, app); err != nil || got != nil {
		t.Fatalf("the cleared app-only token: %q, %v; want none, to be fetched again", got, err)
	}
	if got, err := other.Token(ctx, "lost"); err != nil || string(got) != "token" {
		t.Fatalf("the unreadable account's row after the reseal: %q, %v; want it left as it was", got, err)
	}
}

// The window of a rolling restart: nodes started before the new key was
// given to them have the old key only; the others have the new key and
// the old as the previous.
func TestARollingRestartLosesNoRefreshToken(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	old, restarted, later := openKeys(t, url, "old", keyA, nil), openKeys(t, url, "new", keyB, keyA), openKeys(t, url, "later", keyB, keyA)
	if err := old.UpdateToken(ctx, "acct", set("rt-1")); err != nil {
		t.Fatal(err)
	}
	rotate := func(from, to string) TokenUpdate {
		return func(cur []byte) ([]byte, error) {
			if string(cur) != from {
				return nil, errors.New("the refresh token is " + string(cur) + ", not " + from)
			}
			return []byte(to), nil
		}
	}
	if err := old.UpdateToken(ctx, "acct", rotate("rt-1", "rt-2")); err != nil {
		t.Fatal(err)
	}
	if got, err := later.Token(ctx, "acct"); err != nil || string(got) != "rt-2" {
		t.Fatalf("after a refresh on an old node, a restarted node reads %q, %v", got, err)
	}
	if err := restarted.UpdateToken(ctx, "acct", rotate("rt-2", "rt-3")); err != nil {
		t.Fatal(err)
	}
	if got, err := later.Token(ctx, "acct"); err != nil || string(got) != "rt-3" {
		t.Fatalf("after a refresh on a restarted node, another reads %q, %v", got, err)
	}
	// The old node cannot read it: its update fails before it spends
	// anything, and leaves the row as it was.
	spent := false
	if err := old.UpdateToken(ctx, "acct", func([]byte) ([]byte, error) { spent = true; return []byte("x"), nil }); !errors.Is(err, ErrTokenKey) || spent {
		t.Fatalf("a refresh on an old node after a restarted one's: %v (ran: %v); want ErrTokenKey before it runs", err, spent)
	}
	if got, err := later.Token(ctx, "acct"); err != nil || string(got) != "rt-3" {
		t.Fatalf("after the old node's failed refresh: %q, %v", got, err)
	}
}

func TestResealWaitsForARefreshAndKeepsItsToken(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	old, rotated := openKeys(t, url, "old", keyA, nil), openKeys(t, url, "ba", keyB, keyA)
	if err := old.UpdateToken(ctx, "acct", set("rt-1")); err != nil {
		t.Fatal(err)
	}
	var (
		r         Resealed
		resealErr error
		done      = make(chan struct{})
	)
	// An old node refreshes while the reseal runs: the reseal, having
	// listed the row as under the old key, waits for the refresh's lock,
	// then seals what the refresh wrote.
	err := old.UpdateToken(ctx, "acct", func(cur []byte) ([]byte, error) {
		go func() {
			defer close(done)
			r, resealErr = rotated.ResealTokens(ctx)
		}()
		if err := waitForLockWaiter(ctx, url); err != nil {
			return nil, err
		}
		return []byte("rt-2"), nil
	})
	<-done
	if err != nil || resealErr != nil {
		t.Fatal(errors.Join(err, resealErr))
	}
	if r.Resealed != 1 {
		t.Fatalf("ResealTokens: %+v; want the refreshed row sealed anew", r)
	}
	got, err := openKeys(t, url, "b", keyB, nil).Token(ctx, "acct")
	if err != nil || !bytes.Equal(got, []byte("rt-2")) {
		t.Fatalf("after the reseal, the token is %q, %v; want the refresh's rt-2 under the new key", got, err)
	}
}
