package auth_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/testmail"
)

func TestLoginBrowserEndToEnd(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	src := f.source()
	rec, err := src.LoginBrowser(testCtx(t), func(signIn string) {
		u, err := url.Parse(signIn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		for k, want := range map[string]string{"code_challenge_method": "S256", "login_hint": mailboxUser, "redirect_uri": f.redirect, "response_type": "code"} {
			if q.Get(k) != want {
				t.Errorf("sign-in URL: %s = %q, want %q", k, q.Get(k), want)
			}
		}
		if !strings.Contains(q.Get("scope"), config.ScopeMicrosoftIMAP) || !strings.Contains(q.Get("scope"), "openid") {
			t.Errorf("sign-in URL asks for scopes %q", q.Get("scope"))
		}
		// A return carrying another attempt's state is refused, and the
		// sign-in goes on waiting for the right one.
		stale := f.redirect + "?code=stolen&state=" + url.QueryEscape("not-"+q.Get("state"))
		browse(t, stale, 400)
		page := browse(t, signIn, 200)
		if !strings.Contains(page, "You can close this tab") {
			t.Errorf("the browser's last page says %q", page)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec.User != mailboxUser || rec.Flow != config.FlowAuthorizationCode || rec.RefreshToken == "" || rec.AccessToken == "" {
		t.Errorf("record after sign-in: %v", rec)
	}
	if n := f.idp.Requests("authorization_code"); n != 1 {
		t.Errorf("%d code redemptions, want 1", n)
	}
	// The store holds the record, in a private file in a private directory.
	stored, err := src.Record(context.Background())
	if err != nil || stored == nil || stored.RefreshToken != rec.RefreshToken {
		t.Fatalf("stored record %v, %v", stored, err)
	}
	store := auth.Store{Dir: auth.StoreDir(f.cfg.StateDir)}
	if src.Where() != store.Path("m365") {
		t.Errorf("the source says its tokens are in %s, not %s", src.Where(), store.Path("m365"))
	}
	for path, want := range map[string]os.FileMode{store.Path("m365"): 0o600, store.Dir: 0o700 | os.ModeDir} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode(), err, want)
		}
	}
	// The listener is gone once the sign-in is over.
	u, _ := url.Parse(f.redirect)
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+u.Port(), time.Second); err == nil {
		c.Close()
		t.Error("the redirect listener still accepts connections after the sign-in")
	}
}

func TestLoginBrowserConsentDeclined(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.idp.FailNext("authorize", testmail.IdPError{Code: "access_denied", AADSTS: 65004, Message: "User declined to consent to access the app."})
	_, err := f.source().LoginBrowser(testCtx(t), func(signIn string) { browse(t, signIn, 200) })
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Code != "access_denied" || !strings.Contains(ae.Description, "AADSTS65004") || ae.Account != "m365" {
		t.Fatalf("got %v, want the platform's access_denied", err)
	}
	if rec, _ := f.source().Record(context.Background()); rec != nil {
		t.Errorf("a declined sign-in stored %v", rec)
	}
}

func TestLoginBrowserNeedsItsPort(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	u, _ := url.Parse(f.redirect)
	l, err := net.Listen("tcp", "127.0.0.1:"+u.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l6, err := net.Listen("tcp", "[::1]:"+u.Port())
	if err == nil {
		defer l6.Close()
	}
	_, err = f.source().LoginBrowser(testCtx(t), func(string) { t.Error("a sign-in URL was shown without a listener") })
	if err == nil || !strings.Contains(err.Error(), "oauth2.redirect_url") {
		t.Fatalf("got %v, want an error naming redirect_url", err)
	}
}

// TestLoginDevicePollsAsTold follows RFC 8628: the first poll after the
// interval, another after authorization_pending, 5 s more after slow_down,
// and the tokens once the user has signed in — on a fake clock.
func TestLoginDevicePollsAsTold(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 1, 31, 8, 0, 0, 0, time.UTC))
	f := newFixture(t, fixtureOptions{clock: clk, oauth: `flow = "device_code"`,
		idp: testmail.IdPOptions{DeviceReplies: []string{"authorization_pending", "slow_down"}}})
	src := f.source()
	type result struct {
		rec *auth.Record
		err error
	}
	done := make(chan result, 1)
	shown := make(chan auth.DeviceCode, 1)
	go func() {
		rec, err := src.LoginDevice(testCtx(t), func(c auth.DeviceCode) { shown <- c })
		done <- result{rec, err}
	}()
	code := <-shown
	if code.UserCode == "" || !strings.HasSuffix(code.VerificationURI, "/devicelogin") || code.Expires.Sub(clk.Now()) < 14*time.Minute || code.Expires.Sub(clk.Now()) > 15*time.Minute {
		t.Errorf("device code shown: %+v", code)
	}
	if err := f.idp.ApproveDevice(code.UserCode); err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	for range 3 {
		if err := clk.WaitForTimers(1, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		d, err := clk.AdvanceToNext()
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, d)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := []time.Duration{5 * time.Second, 5 * time.Second, 10 * time.Second}; !equalDurations(waits, want) {
		t.Errorf("waited %v between polls, want %v", waits, want)
	}
	if n := f.idp.Requests("urn:ietf:params:oauth:grant-type:device_code"); n != 3 {
		t.Errorf("%d polls, want 3", n)
	}
	if r.rec.Flow != config.FlowDeviceCode || r.rec.User != mailboxUser || r.rec.RefreshToken == "" {
		t.Errorf("record: %v", r.rec)
	}
}

func TestLoginDeviceCodeExpires(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 1, 31, 8, 0, 0, 0, time.UTC))
	f := newFixture(t, fixtureOptions{clock: clk, oauth: `flow = "device_code"`})
	done := make(chan error, 1)
	go func() {
		_, err := f.source().LoginDevice(testCtx(t), func(auth.DeviceCode) {})
		done <- err
	}()
	// Nobody signs in: poll on until the platform says the code expired.
	for i := 0; ; i++ {
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "expired before anyone signed in") {
				t.Fatalf("got %v", err)
			}
			if elapsed := clk.Now().Sub(time.Date(2025, 1, 31, 8, 0, 0, 0, time.UTC)); elapsed < 15*time.Minute || elapsed > 16*time.Minute {
				t.Errorf("gave up after %v of polling, want about 15m", elapsed)
			}
			return
		default:
		}
		if i > 1000 {
			t.Fatal("still polling after 1000 intervals")
		}
		if err := clk.WaitForTimers(1, 100*time.Millisecond); err == nil {
			clk.AdvanceToNext()
		}
	}
}

func TestDelegatedLoginRefusedForAppOnly(t *testing.T) {
	f := newFixture(t, fixtureOptions{oauth: "flow = \"client_credentials\"\nclient_secret = \"x\""})
	if _, err := f.source().LoginBrowser(testCtx(t), func(string) {}); err == nil || !strings.Contains(err.Error(), "needs no sign-in") {
		t.Errorf("LoginBrowser: %v", err)
	}
	if _, err := f.source().LoginDevice(testCtx(t), func(auth.DeviceCode) {}); err == nil || !strings.Contains(err.Error(), "needs no sign-in") {
		t.Errorf("LoginDevice: %v", err)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
