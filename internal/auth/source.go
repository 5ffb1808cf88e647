package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"mailtask/internal/clock"
	"mailtask/internal/config"
)

// Options are what a Source needs besides the account.
type Options struct {
	// StateDir is the configuration's state_dir; the token store lives in
	// its "tokens" directory unless Tokens names another.
	StateDir string
	// Tokens keeps the tokens in place of the files under StateDir:
	// cluster mode's database.
	Tokens TokenStore
	Log    *slog.Logger
	// Clock tells token expiry and paces device-code polling; nil means
	// the real one.
	Clock clock.Clock
	// HTTPClient talks to the identity endpoints; nil means
	// NewHTTPClient with the account's timeout.
	HTTPClient *http.Client
}

// ReuseMargin is how long before its expiry an access token stops being
// reused: a run must not start with a token that expires mid-way.
const ReuseMargin = 5 * time.Minute

// lockWait bounds the wait for another process's token refresh.
const lockWait = 2 * time.Minute

// AccessToken is a bearer token ready to present to a mail server.
type AccessToken struct {
	value  secret
	Expiry time.Time
	// User is who the token acts for; "" for app-only tokens.
	User string
	// AppOnly marks a client-credentials token; Roles are the application
	// permissions it carries, when it is a JWT that says (Microsoft's are).
	AppOnly bool
	Roles   []string
}

// Bearer returns the token itself, for the SASL exchange and nothing else.
func (t AccessToken) Bearer() string { return string(t.value) }

// String describes t without the token.
func (t AccessToken) String() string {
	return fmt.Sprintf("access token for %q until %s", t.User, t.Expiry.Format(time.RFC3339))
}

// GoString is String, for %#v.
func (t AccessToken) GoString() string { return t.String() }

// LogValue keeps the token out of structured logs.
func (t AccessToken) LogValue() slog.Value { return slog.StringValue(t.String()) }

// TokenSource yields access tokens.
type TokenSource interface {
	Token(ctx context.Context) (AccessToken, error)
}

// Source is an account's OAuth2 token source backed by the token store:
// it reuses the stored access token while it has more than ReuseMargin
// left, and otherwise gets a new one (refresh token, or client
// credentials for app-only accounts) under the store's lock, saving every
// new token, and every rotated refresh token, before returning it.
type Source struct {
	account *config.Account
	o       *config.OAuth2
	ep      oauth2.Endpoint
	store   TokenStore
	http    *http.Client
	clock   clock.Clock
	log     *slog.Logger
}

var _ TokenSource = (*Source)(nil)

// NewSource returns the token source of a validated auth = "oauth2"
// account.
func NewSource(a *config.Account, opts Options) (*Source, error) {
	if a.Auth != config.AuthOAuth2 || a.OAuth2 == nil {
		return nil, fmt.Errorf("account %q: auth is %q, not \"oauth2\"", a.Name, a.Auth)
	}
	s := &Source{
		account: a,
		o:       a.OAuth2,
		ep:      endpoint(a.OAuth2),
		store:   opts.Tokens,
		http:    opts.HTTPClient,
		clock:   opts.Clock,
		log:     opts.Log,
	}
	if s.store == nil {
		s.store = Store{Dir: StoreDir(opts.StateDir)}
	}
	if s.http == nil {
		s.http = NewHTTPClient(a.Timeout.Std())
	}
	if s.clock == nil {
		s.clock = clock.Real
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Account is the account the source serves.
func (s *Source) Account() *config.Account { return s.account }

// Where says where the source keeps its tokens.
func (s *Source) Where() string { return s.store.Where(s.account.Name) }

// Record returns what the store holds for the account, or nil.
func (s *Source) Record(ctx context.Context) (*Record, error) { return s.store.Load(ctx, s.key()) }

// key names the account's record in the store: for an app-only account,
// its app's token, which the store may share with the app's other
// accounts. A service account's token acts for one user, the account's:
// it is the account's own.
func (s *Source) key() TokenKey { return KeyOf(s.account) }

// KeyOf names the record of the auth = "oauth2" account a in a
// TokenStore.
func KeyOf(a *config.Account) TokenKey {
	k := TokenKey{Account: a.Name}
	if o := a.OAuth2; o != nil && o.Flow == config.FlowClientCredentials {
		k.App = &AppKey{Tenant: o.Tenant, ClientID: o.ClientID, Scopes: o.Scopes}
	}
	return k
}

// Token returns an access token valid for at least ReuseMargin.
func (s *Source) Token(ctx context.Context) (AccessToken, error) { return s.token(ctx, true) }

// FreshToken returns a newly issued access token, never a stored one: it
// proves that the identity platform takes the configuration as it is now
// (a rotated client secret, say).
func (s *Source) FreshToken(ctx context.Context) (AccessToken, error) { return s.token(ctx, false) }

func (s *Source) token(ctx context.Context, reuse bool) (AccessToken, error) {
	// A token still good is taken without the store's lock, which only a
	// renewal needs; under the lock it is looked at again, since whoever
	// held it may just have renewed it.
	key := s.key()
	if reuse {
		rec, err := s.store.Load(ctx, key)
		if err != nil {
			return AccessToken{}, err
		}
		if s.reusable(rec) {
			s.log.Debug("reusing stored access token", "account", s.account.Name, "expires", rec.Expiry)
			return accessToken(rec), nil
		}
	}
	var (
		got   *Record
		fnErr error
	)
	err := s.store.Update(ctx, key, func(rec *Record) (*Record, error) {
		if reuse && s.reusable(rec) {
			got = rec
			return nil, nil
		}
		switch {
		case s.o.Flow == config.FlowServiceAccount:
			got, fnErr = s.impersonate(ctx)
		case s.o.Delegated():
			got, fnErr = s.refresh(ctx, rec)
		default:
			got, fnErr = s.appOnly(ctx)
		}
		return got, fnErr
	})
	switch {
	case fnErr != nil:
		return AccessToken{}, fnErr
	case err != nil && got != nil && !s.o.Delegated():
		// The token is good; only its reuse by the next run is lost.
		s.log.Warn("could not keep the access token for the next run", "account", s.account.Name, "err", err)
	case err != nil && got != nil:
		name := s.account.Name
		return AccessToken{}, fmt.Errorf("account %q: the identity platform issued a new refresh token that could not be saved, so the next run may need `mailtask auth login %s`: %w", name, name, err)
	case err != nil:
		return AccessToken{}, err
	}
	return accessToken(got), nil
}

func accessToken(rec *Record) AccessToken {
	t := AccessToken{value: rec.AccessToken, Expiry: rec.Expiry, User: rec.User, AppOnly: rec.Flow == config.FlowClientCredentials}
	if t.AppOnly {
		t.Roles = tokenRoles(string(rec.AccessToken))
	}
	return t
}

// reusable reports whether rec's access token was issued for the
// configuration as it stands and lives on for more than ReuseMargin.
func (s *Source) reusable(rec *Record) bool {
	if rec == nil || rec.AccessToken == "" || !slices.Equal(rec.Scopes, s.o.Scopes) || !s.clock.Now().Add(ReuseMargin).Before(rec.Expiry) {
		return false
	}
	switch s.o.Flow {
	case config.FlowServiceAccount:
		// Whichever key got it, the token opens its user's mailbox, and
		// only that one: a changed username needs a token of its own.
		return rec.Flow == config.FlowServiceAccount && rec.Provider == s.o.Provider && rec.User == s.account.Username
	case config.FlowClientCredentials:
		return rec.Flow == config.FlowClientCredentials && s.sameClient(rec)
	}
	return rec.Flow != config.FlowClientCredentials && rec.Flow != config.FlowServiceAccount && s.sameClient(rec)
}

// sameClient reports whether rec was issued to the configured app.
func (s *Source) sameClient(rec *Record) bool { return rec.IssuedTo(s.o) }

// IssuedTo reports whether r was issued to the app o configures: the same
// provider, client ID and tenant. A sign-in made for another app cannot be
// refreshed for this one.
func (r *Record) IssuedTo(o *config.OAuth2) bool {
	return r.Provider == o.Provider && r.ClientID == o.ClientID && strings.EqualFold(r.Tenant, o.Tenant)
}

// refresh redeems rec's refresh token. The refresh token in the reply
// replaces the old one on disk before anything else happens: Microsoft
// rotates them on each use and may refuse the old one from then on.
func (s *Source) refresh(ctx context.Context, rec *Record) (*Record, error) {
	name := s.account.Name
	switch {
	case rec == nil:
		return nil, &NotSignedInError{Account: name, Reason: "no one has signed in yet"}
	case rec.RefreshToken == "":
		return nil, &NotSignedInError{Account: name, Reason: "the token store holds no refresh token"}
	case !s.sameClient(rec):
		return nil, &NotSignedInError{Account: name, Reason: fmt.Sprintf("the stored sign-in was made for client %s (tenant %q), but the configuration now names client %s (tenant %q)", rec.ClientID, rec.Tenant, s.o.ClientID, s.o.Tenant)}
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {string(rec.RefreshToken)},
		"client_id":     {s.o.ClientID},
		"scope":         {strings.Join(s.o.Scopes, " ")},
	}
	if err := s.addClientCredential(form); err != nil {
		return nil, err
	}
	g, err := s.postToken(ctx, "token refresh", form)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	next := *rec
	next.AccessToken, next.Expiry, next.Scopes = g.access, g.expiry, slices.Clone(s.o.Scopes)
	if g.refresh != "" && g.refresh != rec.RefreshToken {
		next.RefreshToken, next.RefreshIssued = g.refresh, now
	}
	s.log.Debug("access token refreshed", "account", name, "expires", next.Expiry, "refresh_token_rotated", next.RefreshIssued.Equal(now))
	return &next, nil
}

// appOnly gets an app-only token with the client credentials; there is no
// refresh token and no sign-in.
func (s *Source) appOnly(ctx context.Context) (*Record, error) {
	form := url.Values{
		"grant_type": {"client_credentials"},
		"client_id":  {s.o.ClientID},
		"scope":      {strings.Join(s.o.Scopes, " ")},
	}
	if err := s.addClientCredential(form); err != nil {
		return nil, err
	}
	g, err := s.postToken(ctx, "app-only token", form)
	if err != nil {
		return nil, err
	}
	rec := s.newRecord(config.FlowClientCredentials, g)
	s.log.Debug("app-only token issued", "account", s.account.Name, "expires", rec.Expiry)
	return rec, nil
}

// impersonate gets a token acting as the account's user from its Google
// service account: a JWT bearer grant (RFC 7523 2.1) signed with the key
// of the key file, read anew each time so that a rotated key is taken
// without a restart. There is no refresh token: the next token is asked
// for the same way.
func (s *Source) impersonate(ctx context.Context) (*Record, error) {
	key, err := LoadServiceAccountKey(s.account)
	if err != nil {
		return nil, err
	}
	jwt, err := key.grant(s.account.Username, s.o.Scopes, s.clock.Now())
	if err != nil {
		return nil, fmt.Errorf("account %q: %w", s.account.Name, err)
	}
	form := url.Values{"grant_type": {JWTBearerGrant}, "assertion": {jwt}}
	g, err := s.postTokenAt(ctx, key.TokenURI, "service account token", form)
	if err != nil {
		return nil, err
	}
	rec := s.newRecord(config.FlowServiceAccount, g)
	rec.ClientID = key.ClientID
	s.log.Debug("service account token issued", "account", s.account.Name, "service_account", key.ClientEmail, "key", key.KeyID, "user", rec.User, "expires", rec.Expiry)
	return rec, nil
}

func (s *Source) newRecord(flow string, g *grant) *Record {
	now := s.clock.Now()
	rec := &Record{
		Account:     s.account.Name,
		Provider:    s.o.Provider,
		Flow:        flow,
		Tenant:      s.o.Tenant,
		ClientID:    s.o.ClientID,
		Scopes:      slices.Clone(s.o.Scopes),
		AccessToken: g.access,
		Expiry:      g.expiry,
	}
	switch flow {
	case config.FlowClientCredentials:
	case config.FlowServiceAccount:
		rec.User = s.account.Username
	default:
		rec.User = identity(g)
		rec.SignedIn = now
		rec.RefreshToken, rec.RefreshIssued = g.refresh, now
	}
	return rec
}

// addClientCredential proves the app in a token request: with a client
// assertion its certificate's key signs, read anew each time so that a
// rotated certificate is taken without a restart, or with the client
// secret in the body (what Entra and Google both accept). Public clients
// have neither.
func (s *Source) addClientCredential(form url.Values) error {
	if !s.o.HasClientCertificate() {
		secret, err := s.account.ResolveClientSecret()
		if err != nil {
			return err
		}
		if secret != "" {
			form.Set("client_secret", secret.Reveal())
		}
		return nil
	}
	cert, err := LoadClientCertificate(s.account)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	if err := cert.UsableAt(s.account, now); err != nil {
		return err
	}
	assertion, err := cert.assertion(s.ep.TokenURL, s.o.ClientID, now, s.o.Provider == config.ProviderMicrosoft)
	if err != nil {
		return fmt.Errorf("account %q: %w", s.account.Name, err)
	}
	form.Set("client_assertion_type", ClientAssertionType)
	form.Set("client_assertion", assertion)
	return nil
}

// saveSignIn stores the tokens of a completed sign-in, replacing whatever
// the account had.
func (s *Source) saveSignIn(ctx context.Context, flow string, g *grant) (*Record, error) {
	if g.refresh == "" {
		return nil, fmt.Errorf("account %q: the identity platform issued no refresh token, so runs could not renew access; for Microsoft, scopes must include %q", s.account.Name, config.ScopeOfflineAccess)
	}
	rec := s.newRecord(flow, g)
	err := s.store.Update(ctx, s.key(), func(*Record) (*Record, error) { return rec, nil })
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// isCode reports whether err is an identity-platform refusal with code.
func isCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
