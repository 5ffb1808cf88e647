package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/clock"
	"mailtask/internal/testmail"
)

// TestSecretsNeverLogged goes through every token flow, successes and
// refusals, with debug logging on, and looks for the client secret and
// every token issued in the log, the errors and the printed records.
func TestSecretsNeverLogged(t *testing.T) {
	clk := clock.NewFake(start)
	f := newFixture(t, fixtureOptions{clock: clk, oauth: "client_secret = \"" + clientSecret + "\""})
	secrets := []string{clientSecret}
	var printed bytes.Buffer
	keep := func(rec *auth.Record) {
		for _, tok := range []string{string(rec.AccessToken), string(rec.RefreshToken)} {
			if tok != "" {
				secrets = append(secrets, tok)
			}
		}
		fmt.Fprintf(&printed, "%v %+v %#v %s\n", rec, rec, rec, rec)
		fmt.Fprintf(&printed, "%v %+v %#v\n", *rec, *rec, *rec)
		slog.New(slog.NewJSONHandler(&printed, nil)).Info("record", "rec", rec, "value", *rec, "token", rec.RefreshToken)
		json.NewEncoder(&printed).Encode(rec)
		json.NewEncoder(&printed).Encode(*rec)
	}
	keepErr := func(err error) {
		if err == nil {
			t.Fatal("expected a failure")
		}
		fmt.Fprintf(&printed, "%v %+v\n", err, err)
	}

	keep(f.signIn())
	clk.Advance(time.Hour)
	tok, err := f.source().Token(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&printed, "%v %+v %#v %s\n", tok, tok, tok, tok)
	slog.New(slog.NewJSONHandler(&printed, nil)).Info("token", "tok", tok)
	json.NewEncoder(&printed).Encode(tok)
	rec, _ := f.source().Record(context.Background())
	keep(rec)
	f.idp.FailNext("refresh_token", testmail.IdPError{Code: "invalid_grant", AADSTS: 700082, Message: "The refresh token has expired due to inactivity."})
	clk.Advance(time.Hour)
	_, err = f.source().Token(testCtx(t))
	keepErr(err)

	app := newFixture(t, fixtureOptions{clock: clk, oauth: "flow = \"client_credentials\"\nclient_secret = \"" + clientSecret + "\""})
	app.log = f.log
	if _, err := app.source().Token(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	rec, _ = app.source().Record(context.Background())
	keep(rec)
	app.acct.OAuth2.ClientSecret = "wrong-" + clientSecret
	secrets = append(secrets, "wrong-"+clientSecret)
	clk.Advance(2 * time.Hour)
	_, err = app.source().Token(testCtx(t))
	keepErr(err)

	log := f.log.String()
	if !strings.Contains(log, "token request") || !strings.Contains(log, "grant_type=refresh_token") {
		t.Fatalf("the debug log lacks the token requests, so this test proves nothing:\n%s", log)
	}
	for _, s := range secrets {
		if s == "" {
			t.Fatal("a secret to look for is empty")
		}
		for name, text := range map[string]string{"log": log, "printed values": printed.String()} {
			if strings.Contains(text, s) {
				t.Errorf("%s show a secret (%.12s…):\n%s", name, s, text)
			}
		}
	}
}
