package auth

import (
	"fmt"
	"math"
	"time"

	"mailtask/internal/config"
)

// Warning thresholds: client secrets and certificates are flagged a
// month before they expire; Microsoft drops a refresh token after 90 days unused, so one
// idle for 60 is flagged while there is time to act.
const (
	SecretExpiryNotice = 30 * 24 * time.Hour
	RefreshAgeNotice   = 60 * 24 * time.Hour
	microsoftIdleLimit = 90 * 24 * time.Hour
)

// CredentialExpiryWarning returns a warning when the account's client
// credential has expired or will within SecretExpiryNotice: a client
// secret going by oauth2.client_secret_expires, a certificate by its own
// end date, read from its file (which also says when the file cannot be
// used); "" otherwise.
func CredentialExpiryWarning(a *config.Account, now time.Time) string {
	switch {
	case a.OAuth2 == nil:
		return ""
	case a.OAuth2.HasClientCertificate():
		return certificateWarning(a, now)
	case a.OAuth2.ClientSecretExpires.IsZero():
		return ""
	}
	expires := a.OAuth2.ClientSecretExpires.In(time.Local)
	left := expires.Sub(now)
	fix := "create a new client secret (Entra admin center > App registrations > the app > Certificates & secrets), then update the account's client secret and oauth2.client_secret_expires"
	switch {
	case left <= 0:
		return fmt.Sprintf("the client secret of account %q expired on %s: %s", a.Name, expires.Format(time.DateOnly), fix)
	case left <= SecretExpiryNotice:
		return fmt.Sprintf("the client secret of account %q expires on %s, in %s: %s", a.Name, expires.Format(time.DateOnly), Days(left), fix)
	}
	return ""
}

// certificateWarning is CredentialExpiryWarning for a certificate.
func certificateWarning(a *config.Account, now time.Time) string {
	c, err := LoadClientCertificate(a)
	if err != nil {
		return err.Error()
	}
	return c.ExpiryWarning(a, now)
}

// ExpiryWarning is CredentialExpiryWarning for c, account a's certificate
// already read: a certificate outside its dates, or within
// SecretExpiryNotice of its end; "" otherwise.
func (c *ClientCertificate) ExpiryWarning(a *config.Account, now time.Time) string {
	if err := c.UsableAt(a, now); err != nil {
		return err.Error()
	}
	if left := c.Cert.NotAfter.Sub(now); left <= SecretExpiryNotice {
		return fmt.Sprintf("the client certificate of account %q (thumbprint %s) expires on %s, in %s: make a new one, upload its public part to the app registration (Entra admin center > App registrations > the app > Certificates & secrets > Certificates) beside the old one, then replace %s", a.Name, c.Thumbprint(), c.Cert.NotAfter.Local().Format(time.DateOnly), Days(left), a.OAuth2.ClientCertificateFile)
	}
	return ""
}

// RefreshExpiry is when rec's refresh token lapses if it stays unused:
// Microsoft's drop after 90 idle days. False for other providers, whose
// refresh tokens last far longer, and when rec holds no refresh token.
func RefreshExpiry(rec *Record) (time.Time, bool) {
	if rec == nil || rec.Provider != config.ProviderMicrosoft || rec.RefreshToken == "" || rec.RefreshIssued.IsZero() {
		return time.Time{}, false
	}
	return rec.RefreshIssued.Add(microsoftIdleLimit), true
}

// RefreshAgeWarning returns a warning when a Microsoft refresh token has
// gone unused past RefreshAgeNotice; "" otherwise. Other providers keep
// refresh tokens far longer, so their age says nothing.
func RefreshAgeWarning(rec *Record, now time.Time) string {
	if _, ok := RefreshExpiry(rec); !ok {
		return ""
	}
	age := now.Sub(rec.RefreshIssued)
	if age <= RefreshAgeNotice {
		return ""
	}
	if age >= microsoftIdleLimit {
		return fmt.Sprintf("the refresh token of account %q has not been used for %s; Microsoft drops them after 90 days, so it has most likely expired: run `mailtask auth login %s`", rec.Account, Days(age), rec.Account)
	}
	return fmt.Sprintf("the refresh token of account %q has not been used for %s; Microsoft drops it after 90 days unused: run a task of this account (or `mailtask auth login %s`) before then", rec.Account, Days(age), rec.Account)
}

// Days says d in whole days, rounded: "1 day", "17 days".
func Days(d time.Duration) string {
	n := int(math.Round(d.Hours() / 24))
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}
