package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/pgstore"
)

func authLoginFlags(fs *flag.FlagSet) runFunc {
	cfgPath := configFlag(fs)
	device := fs.Bool("device", false, "sign in with a code on another device (for machines without a browser)")
	noBrowser := fs.Bool("no-browser", false, "only print the sign-in URL; do not open a browser")
	wait := fs.Duration("timeout", 10*time.Minute, "how long to wait for the browser's return or the device-code sign-in, a `DURATION` such as 10m")
	return func(ctx context.Context, e *env, positional []string) error {
		return authLogin(ctx, e, *cfgPath, *device, *noBrowser, *wait, positional)
	}
}

func authLogin(ctx context.Context, e *env, cfgPath string, device, noBrowser bool, wait time.Duration, positional []string) error {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	acct, err := oauth2Account(cfg, "auth login", positional)
	if err != nil {
		return err
	}
	node, err := openNode(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeNode(node)
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src, err := auth.NewSource(acct, auth.Options{StateDir: cfg.StateDir, Tokens: tokenStore(cfg, node), Log: log})
	if err != nil {
		return err
	}
	if w := auth.CredentialExpiryWarning(acct, time.Now()); w != "" {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	o := acct.OAuth2

	if o.Flow == config.FlowServiceAccount {
		fmt.Fprintf(e.stdout, "Account %q uses a Google service account (service_account): there is no sign-in; it acts as %s with tokens fetched when needed.\nFetching a new one now to check the key file and the domain-wide delegation...\n", acct.Name, acct.Username)
		tok, err := src.FreshToken(ctx)
		if err != nil {
			return authFailure(e, acct.Name, wait, err)
		}
		fmt.Fprintf(e.stdout, "ok: Google issued a token acting as %s, valid until %s.\nIf Gmail still refuses it, see `mailtask check TASK`.\n", acct.Username, tok.Expiry.Local().Format(time.DateTime))
		return nil
	}
	if !o.Delegated() {
		fmt.Fprintf(e.stdout, "Account %q uses app-only tokens (client_credentials): there is no sign-in; tokens are fetched when needed.\nFetching a new one now to check the app registration and its %s...\n", acct.Name, credentialName(o))
		// A new token, never the stored one: a rotated secret or
		// certificate must be proven now, not when the stored token runs
		// out in an hour.
		tok, err := src.FreshToken(ctx)
		if err != nil {
			return authFailure(e, acct.Name, wait, err)
		}
		fmt.Fprintf(e.stdout, "ok: the identity platform issued an app-only token, valid until %s.\nIf the mailbox still refuses it, see `mailtask check TASK`.\n", tok.Expiry.Local().Format(time.DateTime))
		return nil
	}

	var rec *auth.Record
	if device || o.Flow == config.FlowDeviceCode {
		rec, err = src.LoginDevice(ctx, func(c auth.DeviceCode) {
			fmt.Fprintf(e.stdout, "To sign in as %s, open %s on any device and enter the code %s", acct.Username, c.VerificationURI, c.UserCode)
			if !c.Expires.IsZero() {
				fmt.Fprintf(e.stdout, " (valid until %s)", c.Expires.Local().Format(time.TimeOnly))
			}
			fmt.Fprintln(e.stdout, ".\nWaiting for the sign-in...")
		})
	} else {
		rec, err = src.LoginBrowser(ctx, func(url string) {
			fmt.Fprintf(e.stdout, "Open this page in a browser on this machine and sign in as %s:\n\n  %s\n\nWaiting for the browser to return to %s ...\n(On a machine without a browser, use --device, or forward the port with ssh -L.)\n", acct.Username, url, o.RedirectURL)
			if !noBrowser {
				openBrowser(url)
			}
		})
	}
	if err != nil {
		return authFailure(e, acct.Name, wait, err)
	}
	who := rec.User
	if who == "" {
		who = "(the identity platform did not say who)"
	}
	fmt.Fprintf(e.stdout, "Signed in as %s. Tokens stored in %s.\n", who, src.Where())
	if rec.User != "" && !strings.EqualFold(rec.User, acct.Username) {
		fmt.Fprintf(e.stdout, "note: the token belongs to %s, but the account's username is %s. Microsoft answers \"User is authenticated but not connected.\" unless %s has Full Access to that mailbox; sign in as the mailbox's user otherwise.\n", rec.User, acct.Username, rec.User)
	}
	return nil
}

// authFailure reports a failed sign-in or token request with its hint,
// naming the account once.
func authFailure(e *env, account string, waited time.Duration, err error) error {
	msg := err.Error()
	if !strings.Contains(msg, fmt.Sprintf("account %q", account)) {
		msg = fmt.Sprintf("account %q: %s", account, msg)
	}
	if errors.Is(err, auth.ErrWaitEnded) {
		msg += fmt.Sprintf(" (waited %s; --timeout sets how long)", waited)
	}
	fmt.Fprintf(e.stderr, "mailtask: %s\n", msg)
	if hint := diagnose.Hint(err); hint != "" {
		fmt.Fprintf(e.stderr, "hint: %s\n", hint)
	}
	return errReported
}

func authLogoutFlags(fs *flag.FlagSet) runFunc {
	cfgPath := configFlag(fs)
	return func(ctx context.Context, e *env, positional []string) error {
		return authLogout(ctx, e, *cfgPath, positional)
	}
}

// authLogout removes a delegated account's stored tokens: a customer who
// leaves should not leave a working refresh token to their mailbox behind.
// An app-only account stores no sign-in of its own.
func authLogout(ctx context.Context, e *env, cfgPath string, positional []string) error {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	acct, err := oauth2Account(cfg, "auth logout", positional)
	if err != nil {
		return err
	}
	if acct.OAuth2.Flow == config.FlowServiceAccount {
		return usageError{fmt.Sprintf("account %q uses a Google service account (service_account): it stores no sign-in, and its access token lapses within the hour; to end its access, the domain's admin removes the delegation (Admin console > Security > Access and data control > API controls > Manage Domain Wide Delegation), which ends it for every mailbox of the domain, or you delete the key (Google Cloud console > IAM & Admin > Service accounts > the account > Keys)", acct.Name)}
	}
	if !acct.OAuth2.Delegated() {
		return usageError{fmt.Sprintf("account %q uses app-only tokens (client_credentials): it stores no sign-in of its own, and its app's token, shared with the app's other accounts, lapses within the hour; to end its access, remove the app's client secret or certificate, or the mailbox permission (Remove-MailboxPermission)", acct.Name)}
	}
	node, err := openNode(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeNode(node)
	store := tokenStore(cfg, node)
	had, err := store.Forget(ctx, acct.Name)
	if err != nil {
		return err
	}
	if !had {
		fmt.Fprintf(e.stdout, "account %q has no stored tokens (%s)\n", acct.Name, store.Where(acct.Name))
		return nil
	}
	fmt.Fprintf(e.stdout, "account %q: its tokens are removed from %s; its runs now fail until `mailtask auth login %s`. Microsoft still honours the refresh token until it lapses or the user's sessions are revoked (Entra admin center > Users > the user > Revoke sessions).\n", acct.Name, store.Where(acct.Name), acct.Name)
	return nil
}

// oauth2Account resolves the one ACCOUNT argument to an auth = "oauth2"
// account.
func oauth2Account(cfg *config.Config, cmd string, positional []string) (*config.Account, error) {
	names := oauth2Accounts(cfg)
	if len(positional) != 1 {
		return nil, usageError{fmt.Sprintf("%s needs exactly one account name (OAuth2 accounts: %s)", cmd, listOrNone(names))}
	}
	a := cfg.Accounts[positional[0]]
	switch {
	case a == nil:
		return nil, usageError{fmt.Sprintf("no account %q in %s (OAuth2 accounts: %s)", positional[0], cfg.File, listOrNone(names))}
	case a.Auth != config.AuthOAuth2:
		return nil, usageError{fmt.Sprintf("account %q uses auth = %q; %s is for auth = \"oauth2\" accounts (%s)", a.Name, a.Auth, cmd, listOrNone(names))}
	}
	return a, nil
}

func oauth2Accounts(cfg *config.Config) []string {
	var names []string
	for name, a := range cfg.Accounts {
		if a.Auth == config.AuthOAuth2 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// listOrNone lists names for a message that suggests one: the first few,
// as a configuration that includes a file per mailbox has thousands.
func listOrNone(names []string) string {
	const shown = 10
	switch {
	case len(names) == 0:
		return "none"
	case len(names) > shown:
		return fmt.Sprintf("%s and %d more", strings.Join(names[:shown], ", "), len(names)-shown)
	}
	return strings.Join(names, ", ")
}

// openBrowser shows url in the desktop's browser when there is a desktop;
// the URL is printed either way.
func openBrowser(url string) {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return
		}
		cmd = exec.Command("xdg-open", url)
	}
	if cmd.Start() == nil {
		go cmd.Wait() // reap it; xdg-open and friends exit at once
	}
}

func authStatusFlags(fs *flag.FlagSet) runFunc {
	cfgPath := configFlag(fs)
	return func(ctx context.Context, e *env, positional []string) error {
		return authStatus(ctx, e, *cfgPath, positional)
	}
}

func authStatus(ctx context.Context, e *env, cfgPath string, positional []string) error {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	names := oauth2Accounts(cfg)
	if len(positional) > 0 {
		a, err := oauth2Account(cfg, "auth status", positional)
		if err != nil {
			return err
		}
		names = []string{a.Name}
	}
	if len(names) == 0 {
		fmt.Fprintf(e.stdout, "No account in %s uses auth = \"oauth2\".\n", cfg.File)
		return nil
	}
	node, err := openNode(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeNode(node)
	if clustered(node) {
		if err := printTokenKeys(ctx, e, cfg, node.Store()); err != nil {
			return err
		}
	}
	needLogin := false
	now := time.Now()
	store := tokenStore(cfg, node)
	saKeys := map[string]struct {
		key *auth.ServiceAccountKey
		err error
	}{}
	for i, name := range names {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		a := cfg.Accounts[name]
		o := a.OAuth2
		if o.Flow == config.FlowServiceAccount {
			fmt.Fprintf(e.stdout, "%s: %s\n", name, describeAuth(a))
		} else {
			fmt.Fprintf(e.stdout, "%s: %s, client %s\n", name, describeAuth(a), o.ClientID)
		}
		line := func(k, format string, args ...any) {
			fmt.Fprintf(e.stdout, "  %-14s %s\n", k, fmt.Sprintf(format, args...))
		}
		line("username", "%s", a.Username)
		line("scopes", "%s", strings.Join(o.Scopes, " "))
		var (
			warnings []string
			hint     string // of a token that does not load
		)
		if !o.ClientSecretExpires.IsZero() {
			exp := o.ClientSecretExpires.In(time.Local)
			line("client secret", "expires %s (%s)", exp.Format(time.DateOnly), relative(exp, now))
		}
		w := ""
		if o.Flow == config.FlowServiceAccount {
			// Thousands of mailboxes may share one key file: it is read once.
			k, ok := saKeys[o.ServiceAccountKeyFile]
			if !ok {
				k.key, k.err = auth.LoadServiceAccountKey(a)
				saKeys[o.ServiceAccountKeyFile] = k
			}
			if k.err != nil {
				w = k.err.Error()
			} else {
				k := k.key
				line("service acct", "%s, client ID %s", k.ClientEmail, k.ClientID)
				line("key", "%s (%s)", k.KeyID, o.ServiceAccountKeyFile)
			}
		} else if !o.HasClientCertificate() {
			w = auth.CredentialExpiryWarning(a, now)
		} else if c, err := auth.LoadClientCertificate(a); err != nil {
			w = err.Error()
		} else {
			line("certificate", "%s, thumbprint %s, expires %s (%s)", c.Cert.Subject, c.Thumbprint(), c.Cert.NotAfter.Local().Format(time.DateOnly), relative(c.Cert.NotAfter, now))
			w = c.ExpiryWarning(a, now)
		}
		if w != "" {
			warnings = append(warnings, w)
		}
		rec, err := store.Load(ctx, auth.KeyOf(a))
		switch {
		case err != nil:
			warnings = append(warnings, err.Error())
			hint = diagnose.Hint(err)
		case rec == nil && o.Delegated():
			line("tokens", "none: not signed in; run `mailtask auth login %s`", name)
			needLogin = true
		case rec == nil && o.Flow == config.FlowServiceAccount:
			line("tokens", "none yet (the service account's tokens are fetched when needed)")
		case rec == nil:
			line("tokens", "none yet (app-only tokens are fetched when needed)")
		default:
			if rec.User != "" && o.Flow == config.FlowServiceAccount {
				line("acting as", "%s", rec.User)
			} else if rec.User != "" {
				line("signed in as", "%s", rec.User)
			}
			if !rec.SignedIn.IsZero() {
				line("signed in", "%s (%s, %s)", rec.SignedIn.Local().Format(time.DateTime), relative(rec.SignedIn, now), rec.Flow)
			}
			switch {
			case rec.AccessToken == "":
				line("access token", "none")
			case rec.Expiry.After(now):
				line("access token", "valid until %s (%s)", rec.Expiry.Local().Format(time.DateTime), relative(rec.Expiry, now))
			default:
				line("access token", "expired %s (renewed at the next run)", relative(rec.Expiry, now))
			}
			if rec.RefreshToken != "" {
				line("refresh token", "issued %s (%s)", rec.RefreshIssued.Local().Format(time.DateTime), relative(rec.RefreshIssued, now))
			} else if o.Delegated() {
				line("refresh token", "none: run `mailtask auth login %s`", name)
				needLogin = true
			}
			if w := auth.RefreshAgeWarning(rec, now); w != "" {
				warnings = append(warnings, w)
			}
			if lapse, ok := auth.RefreshExpiry(rec); ok && o.Delegated() && !now.Before(lapse) {
				needLogin = true
			}
			if o.Delegated() && !rec.IssuedTo(o) {
				warnings = append(warnings, fmt.Sprintf("the stored sign-in was made for client %s (tenant %q), but the configuration names client %s (tenant %q): run `mailtask auth login %s`", rec.ClientID, rec.Tenant, o.ClientID, o.Tenant, name))
				needLogin = true
			}
			switch {
			case o.Flow == config.FlowServiceAccount:
				if rec.User != a.Username {
					warnings = append(warnings, fmt.Sprintf("the stored token acts as %s, not as username %s: it is not used, and the next run asks for one acting as %s", rec.User, a.Username, a.Username))
				}
			case rec.User != "" && !strings.EqualFold(rec.User, a.Username):
				warnings = append(warnings, fmt.Sprintf("the token belongs to %s, not to username %s: this works only if %s has Full Access to that mailbox", rec.User, a.Username, rec.User))
			}
		}
		for _, w := range warnings {
			fmt.Fprintf(e.stdout, "  warning: %s\n", w)
		}
		if hint != "" {
			fmt.Fprintf(e.stdout, "  hint: %s\n", hint)
		}
	}
	if needLogin {
		return errReported
	}
	return nil
}

// printTokenKeys says which keys seal the database's tokens, so that
// during a rotation the operator knows when the previous key may go.
func printTokenKeys(ctx context.Context, e *env, cfg *config.Config, store *pgstore.Store) error {
	c, err := store.CountSealed(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.File, err)
	}
	current, previous := store.TokenKeyIDs()
	fmt.Fprintf(e.stdout, "token key %s (%s) seals %d of the %d stored tokens\n", current, cfg.TokenKeySetting(), c.Current, c.Current+c.Previous+c.Other)
	switch {
	case previous != "" && c.Previous > 0:
		fmt.Fprintf(e.stdout, "previous key %s (%s) still seals %d: keep it until `mailtask db reseal-tokens` has sealed them anew\n", previous, cfg.TokenKeyPreviousSetting(), c.Previous)
	case previous != "":
		fmt.Fprintf(e.stdout, "previous key %s (%s) seals none: once every node runs with key %s, drop it\n", previous, cfg.TokenKeyPreviousSetting(), current)
	}
	if c.Other > 0 {
		fmt.Fprintf(e.stdout, "%d are sealed with another key, or as a release before key identifiers sealed them: `mailtask db reseal-tokens` seals anew those this node opens and names the others\n", c.Other)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// relative says how far t is from now: "in 17 days", "12 minutes ago".
func relative(t, now time.Time) string {
	d := t.Sub(now)
	prefix, suffix := "in ", ""
	if d < 0 {
		d, prefix, suffix = -d, "", " ago"
	}
	var s string
	switch {
	case d >= 36*time.Hour:
		s = auth.Days(d)
	case d >= 2*time.Hour:
		s = fmt.Sprintf("%d hours", int(d.Hours()))
	case int(d.Minutes()) == 1:
		s = "1 minute"
	default:
		s = fmt.Sprintf("%d minutes", int(d.Minutes()))
	}
	return prefix + s + suffix
}

// credentialName says how the app proves itself, for messages.
func credentialName(o *config.OAuth2) string {
	if o.HasClientCertificate() {
		return "certificate"
	}
	return "client secret"
}
