package main

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// readmePath is one of the README's ways to set up an account, followed
// as an admin would: the app registration (the IdP's options), the
// account's oauth2 table, the sign-in, then `mailtask check` against a
// real Dovecot that checks every token with the identity platform (its
// oauth2 passdb).
type readmePath struct {
	name  string
	idp   testmail.IdPOptions
	oauth string // the [accounts.m365.oauth2] lines besides tenant, client_id and the URLs
	login func(f *oauthFixture) (code int, stdout, stderr string)
}

func browserLogin(f *oauthFixture) (int, string, string) { return f.loginInBrowser() }

func deviceLogin(f *oauthFixture) (int, string, string) {
	return runWatched(f.t, func(line string) {
		if m := regexp.MustCompile(`enter the code (\S+)`).FindStringSubmatch(line); m != nil {
			resp, err := http.Get(f.idp.URL + "/devicelogin?code=" + m[1]) // the user, on another device
			if err != nil {
				f.t.Errorf("device page: %v", err)
				return
			}
			resp.Body.Close()
		}
	}, "auth", "login", "--config", f.cfg, "m365")
}

func appOnlyLogin(f *oauthFixture) (int, string, string) {
	return run(f.t, "auth", "login", "--config", f.cfg, "m365")
}

// TestREADMEPathsEndInAWorkingCheck follows each OAuth2 path of the README
// to a `mailtask check` that passes, and the app-password path too.
func TestREADMEPathsEndInAWorkingCheck(t *testing.T) {
	const secretLine = "client_secret = \"" + oauthSecret + "\""
	// The app's certificate, made as the README says and uploaded to the
	// app registration; its PEM holds the key too, as openssl pkcs12
	// -nodes prints it.
	cert, err := testmail.NewAppCertificate(time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	certFile := writeFile(t, t.TempDir(), "app.pem", string(cert.PEM()))
	for _, p := range []readmePath{
		// A new registration: "Mobile and desktop applications", public
		// client flows allowed, no secret.
		{"delegated, new registration", testmail.IdPOptions{}, "", browserLogin},
		// CrushFTP's registration reused as is: Web platform, with its secret.
		{"delegated, reused Web registration", testmail.IdPOptions{WebPlatform: true}, secretLine, browserLogin},
		{"device code", testmail.IdPOptions{DeviceInterval: 1}, "flow = \"device_code\"", deviceLogin},
		// New-ServicePrincipal and Add-MailboxPermission gave the app the mailbox.
		{"app-only", testmail.IdPOptions{AppMailbox: dovecot.DefaultUser}, "flow = \"client_credentials\"\n" + secretLine, appOnlyLogin},
		// The same with a certificate in place of the secret.
		{"app-only, certificate", testmail.IdPOptions{AppMailbox: dovecot.DefaultUser, ClientCertificates: []*x509.Certificate{cert.Cert}},
			"flow = \"client_credentials\"\nclient_certificate_file = \"" + certFile + "\"", appOnlyLogin},
	} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			f := dovecotOAuthFixture(t, p.idp, p.oauth)
			if code, out, errOut := p.login(f); code != exitOK {
				t.Fatalf("auth login: exit %d\n%s%s", code, out, errOut)
			}
			code, out, errOut := run(t, "check", "--config", f.cfg, "invoices")
			if code != exitOK || !strings.Contains(out, "authenticate  ok      as "+dovecot.DefaultUser+" with XOAUTH2") || !strings.Contains(out, "2 in INBOX") {
				t.Errorf("check: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
	t.Run("app password", func(t *testing.T) {
		t.Parallel()
		d := dovecot.Start(t, dovecot.Options{})
		d.Seed(t, d.User, "INBOX", []byte("Subject: one\r\n\r\nbody\r\n"))
		td := newTaskDir(t, d, "imap", d.User, d.Password)
		code, out, errOut := run(t, "check", "--config", td.config, "t")
		if code != exitOK || !strings.Contains(out, "authenticate  ok") {
			t.Errorf("check: exit %d\n%s%s", code, out, errOut)
		}
	})
}

// dovecotOAuthFixture is an identity platform registered as idpOpts says,
// a Dovecot that checks tokens with it holding two messages for alice, and
// a configuration whose account m365 signs in to it with oauth lines.
func dovecotOAuthFixture(t *testing.T, idpOpts testmail.IdPOptions, oauth string) *oauthFixture {
	t.Helper()
	f := &oauthFixture{t: t}
	f.redirect = testmail.RedirectURL(t)
	idpOpts.Tenant, idpOpts.User, idpOpts.RedirectURL = oauthTenant, dovecot.DefaultUser, f.redirect
	if idpOpts.WebPlatform || strings.Contains(oauth, "client_secret") {
		idpOpts.ClientSecret = oauthSecret
	}
	var err error
	if f.idp, err = testmail.StartIdP(idpOpts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.idp.Close() })
	d := dovecot.Start(t, dovecot.OAuth2(f.idp.IntrospectURL(), "xoauth2 oauthbearer"))
	d.Seed(t, d.User, "INBOX", []byte("Subject: one\r\n\r\nbody\r\n"), []byte("Subject: two\r\n\r\nbody\r\n"))
	f.cfg = f.writeConfig(t.TempDir(), d.IMAPSAddr, d.CACertFile, dovecot.DefaultUser, oauth)
	return f
}

// TestREADMENotificationPaths sends `mailtask notify test` through an SMTP
// server that takes only tokens the identity platform issued with the
// permission to send: SMTP.Send for a delegated sign-in, SMTP.SendAsApp
// for app-only.
func TestREADMENotificationPaths(t *testing.T) {
	for _, p := range []struct {
		name, oauth string
		login       func(*oauthFixture) (int, string, string)
	}{
		{"delegated", `scopes = ["https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send", "offline_access"]`, browserLogin},
		{"app-only", "flow = \"client_credentials\"", appOnlyLogin},
	} {
		t.Run(p.name, func(t *testing.T) {
			f := newOAuthFixture(t, testmail.IdPOptions{AppRoles: []string{"IMAP.AccessAsApp", "SMTP.SendAsApp"}}, p.oauth)
			mayServe := func(user, token string) bool {
				g, ok := f.idp.Introspect(token)
				if g.User == "" {
					return ok && slices.Contains(g.Roles, "SMTP.SendAsApp")
				}
				return ok && strings.EqualFold(g.User, user) && slices.Contains(g.Scopes, "SMTP.Send")
			}
			srv, caFile := testmail.StartSMTPWithCA(t, testmail.SMTPOptions{Mechanisms: []string{sasl.Login, "XOAUTH2"}, XOAUTH2: mayServe})
			host, port, _ := strings.Cut(srv.Addr, ":")
			editFile(t, f.cfg, "[[task]]", fmt.Sprintf("[notify]\naccount = \"m365\"\nhost = %q\nport = %s\nca_file = %q\nto = [\"ops@contoso.com\"]\ntimeout = \"10s\"\n[[task]]", host, port, caFile))
			if code, out, errOut := p.login(f); code != exitOK {
				t.Fatalf("auth login: exit %d\n%s%s", code, out, errOut)
			}
			code, out, errOut := run(t, "notify", "test", "--config", f.cfg)
			if got := srv.Received(); code != exitOK || len(got) != 1 || got[0].Mechanism != "XOAUTH2" {
				t.Errorf("notify test: exit %d, %d mails\n%s%s", code, len(got), out, errOut)
			}
		})
	}
}
