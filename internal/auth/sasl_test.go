package auth_test

import (
	"bytes"
	"testing"

	"mailtask/internal/auth"
)

func TestXOAUTH2(t *testing.T) {
	c := auth.NewXOAUTH2("invoices@contoso.com", "eyJ0.tok")
	name, ir, err := c.Start()
	if err != nil || name != "XOAUTH2" {
		t.Fatalf("Start: %q, %v", name, err)
	}
	if want := "user=invoices@contoso.com\x01auth=Bearer eyJ0.tok\x01\x01"; string(ir) != want {
		t.Errorf("initial response %q, want %q", ir, want)
	}
	if auth.FailureChallenge(c) != "" {
		t.Error("a failure challenge before any challenge")
	}
	// The failure challenge is answered with an empty response and kept.
	resp, err := c.Next([]byte(`{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}`))
	if err != nil || len(resp) != 0 {
		t.Errorf("answer to the failure challenge: %q, %v; want an empty response", resp, err)
	}
	if got, want := auth.FailureChallenge(c), "status 400, scope https://mail.google.com/"; got != want {
		t.Errorf("FailureChallenge = %q, want %q", got, want)
	}
	c.Next([]byte("not json"))
	if got := auth.FailureChallenge(c); got != `"not json"` {
		t.Errorf("FailureChallenge of a non-JSON challenge = %q", got)
	}
}

func TestOAuthBearerAnswersTheFailureChallenge(t *testing.T) {
	c := auth.NewOAuthBearer("alice", "tok")
	name, ir, _ := c.Start()
	if name != "OAUTHBEARER" || !bytes.Contains(ir, []byte("n,a=alice,")) || !bytes.Contains(ir, []byte("\x01auth=Bearer tok\x01\x01")) {
		t.Errorf("Start: %q %q", name, ir)
	}
	// go-sasl's client returns an error here and leaves the server waiting;
	// RFC 7628 wants a single %x01.
	resp, err := c.Next([]byte(`{"status":"invalid_token","schemes":"bearer","scope":"mail"}`))
	if err != nil || !bytes.Equal(resp, []byte{0x01}) {
		t.Fatalf("answer: %q, %v", resp, err)
	}
	if got := auth.FailureChallenge(c); got != "status invalid_token, scope mail" {
		t.Errorf("FailureChallenge = %q", got)
	}
}
