package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/pgstore"
	"mailtask/internal/testmail/postgres"
)

// A rotation of the token key as an operator runs it: nodes with the old
// key wrote the tokens; the configuration now has the new key and the old
// as the previous one.
func TestDBResealTokensRetiresThePreviousKey(t *testing.T) {
	url := postgres.Shared(t).NewDatabase(t)
	oldKey, newKey, lostKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	t.Setenv("MAILTASK_TEST_NEW_KEY", base64.StdEncoding.EncodeToString(newKey))
	t.Setenv("MAILTASK_TEST_OLD_KEY", base64.StdEncoding.EncodeToString(oldKey))
	cfg, _ := clusterTaskOn(t, url, `token_key_env = "MAILTASK_TEST_NEW_KEY"
token_key_previous_env = "MAILTASK_TEST_OLD_KEY"
[accounts.o]
host = "outlook.office365.com"
username = "scans@contoso.com"
auth = "oauth2"
[accounts.o.oauth2]
client_id = "00000000-0000-0000-0000-00000000c11e"
flow = "device_code"
tenant = "contoso.onmicrosoft.com"
`, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	record, err := auth.EncodeRecord(&auth.Record{Account: "o", Provider: "microsoft", Flow: "device_code", Tenant: "contoso.onmicrosoft.com", ClientID: "00000000-0000-0000-0000-00000000c11e",
		Scopes: []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"}, RefreshToken: "rt-1", RefreshIssued: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	// write seals the tokens of accounts with key, as a node with that
	// key (and previous, if not nil) would.
	write := func(key, previous []byte, accounts ...string) {
		t.Helper()
		s, err := pgstore.Open(ctx, pgstore.Options{URL: url, TokenKey: key, PreviousTokenKey: previous})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, a := range accounts {
			if err := s.UpdateToken(ctx, a, func([]byte) ([]byte, error) { return record, nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(oldKey, nil, "o", "retired-account")
	oldID, newID := pgstore.TokenKeyID(oldKey), pgstore.TokenKeyID(newKey)

	code, out, errOut := run(t, "auth", "status", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "token key "+newID+" (token_key_env MAILTASK_TEST_NEW_KEY) seals 0 of the 2 stored tokens") ||
		!strings.Contains(out, "previous key "+oldID+" (token_key_previous_env MAILTASK_TEST_OLD_KEY) still seals 2") || strings.Contains(out, "rt-1") {
		t.Fatalf("auth status before the reseal: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, "db", "reseal-tokens", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "2 tokens sealed anew with it, 0 already were") || !strings.Contains(out, "no token needs the previous key "+oldID) {
		t.Fatalf("db reseal-tokens: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, "db", "reseal-tokens", "--config", cfg); code != exitOK || !strings.Contains(out, "0 tokens sealed anew with it, 2 already were") {
		t.Fatalf("db reseal-tokens again: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, "auth", "status", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "seals 2 of the 2 stored tokens") || !strings.Contains(out, "previous key "+oldID+" (token_key_previous_env MAILTASK_TEST_OLD_KEY) seals none") {
		t.Fatalf("auth status after the reseal: exit %d\n%s%s", code, out, errOut)
	}

	// A token sealed with a key nobody configured: named, with what to do.
	write(lostKey, nil, "lost")
	code, out, errOut = run(t, "db", "reseal-tokens", "--config", cfg)
	if code != exitFailed || !strings.Contains(out, `account "lost"`) || !strings.Contains(out, pgstore.TokenKeyID(lostKey)) ||
		!strings.Contains(out, "1 accounts need `mailtask auth login ACCOUNT` (or the key they were sealed with, as token_key_previous_env or _file): lost") {
		t.Fatalf("db reseal-tokens with a token no key opens: exit %d\n%s%s", code, out, errOut)
	}

	// auth status names the key the account's token needs, with the hint.
	write(lostKey, newKey, "o")
	code, out, errOut = run(t, "auth", "status", "--config", cfg, "o")
	if !strings.Contains(out, "sealed with key "+pgstore.TokenKeyID(lostKey)+", which this node lacks") || !strings.Contains(out, "\n  hint: ") || !strings.Contains(out, "a rotation is under way") {
		t.Fatalf("auth status of an account whose token no key opens: exit %d\n%s%s", code, out, errOut)
	}

	t.Setenv("MAILTASK_TEST_OLD_KEY", base64.StdEncoding.EncodeToString(newKey))
	if code, out, errOut := run(t, "validate", "--config", cfg); code != exitUsage || !strings.Contains(errOut, "token_key_previous_env MAILTASK_TEST_OLD_KEY: the previous token key is the current one") {
		t.Fatalf("validate with the current key as the previous: exit %d\n%s%s", code, out, errOut)
	}
}
