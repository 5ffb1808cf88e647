package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
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

// recorder is an HTTP transport that keeps the client assertions sent.
type recorder struct {
	mu         sync.Mutex
	assertions []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	if form, err := url.ParseQuery(string(body)); err == nil && form.Get("client_assertion") != "" {
		r.mu.Lock()
		r.assertions = append(r.assertions, form.Get("client_assertion"))
		r.mu.Unlock()
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return http.DefaultTransport.RoundTrip(req)
}

// TestCertificateSecretsNeverLogged signs in with a certificate, and is
// refused, with debug logging on, and looks for the client assertions
// sent and the private key in the log, the errors and the printed
// certificate.
func TestCertificateSecretsNeverLogged(t *testing.T) {
	clk := clock.NewFake(start)
	cert := appCert(t, start.AddDate(0, -1, 0), start.AddDate(1, 0, 0), false)
	other := appCert(t, start.AddDate(0, -1, 0), start.AddDate(1, 0, 0), true)
	f, file := certFixture(t, clk, nil, cert)
	writeFile(t, file, cert.PEM())
	rec := &recorder{}
	opts := f.options()
	opts.HTTPClient = &http.Client{Transport: rec}
	var printed bytes.Buffer
	src, err := auth.NewSource(f.acct, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src.FreshToken(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&printed, "%v %+v\n", tok, tok)
	loaded, err := auth.LoadClientCertificate(f.acct)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&printed, "%v %+v %#v %s\n", loaded, loaded, loaded, loaded)
	fmt.Fprintf(&printed, "%v %+v %#v\n", *loaded, *loaded, *loaded)
	slog.New(slog.NewJSONHandler(&printed, nil)).Info("certificate", "cert", loaded, "value", *loaded)
	json.NewEncoder(&printed).Encode(loaded)

	// Refused: the file now holds a certificate the app does not have.
	writeFile(t, file, other.PEM())
	clk.Advance(2 * time.Hour)
	_, err = src.Token(testCtx(t))
	if err == nil {
		t.Fatal("an unregistered certificate was taken")
	}
	fmt.Fprintf(&printed, "%v %+v\n", err, err)

	if len(rec.assertions) != 2 {
		t.Fatalf("%d assertions sent, want 2: this test proves nothing", len(rec.assertions))
	}
	log := f.log.String()
	if !strings.Contains(log, "grant_type=client_credentials") {
		t.Fatalf("the debug log lacks the token requests, so this test proves nothing:\n%s", log)
	}
	var secrets []string
	for _, a := range rec.assertions {
		secrets = append(secrets, a, a[strings.LastIndex(a, ".")+1:])
	}
	for _, k := range [][]byte{cert.KeyPEM, other.KeyPEM} {
		lines := strings.Split(string(k), "\n")
		secrets = append(secrets, lines[1], lines[len(lines)/2])
		secrets = append(secrets, parseKey(t, k).D.String(), parseKey(t, k).D.Text(16))
	}
	for _, s := range secrets {
		for name, text := range map[string]string{"log": log, "printed values and errors": printed.String()} {
			if strings.Contains(text, s) {
				t.Errorf("%s show a secret (%.12s…)", name, s)
			}
		}
	}
}
