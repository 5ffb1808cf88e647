package auth

import (
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/endpoints"
	"golang.org/x/oauth2/microsoft"

	"mailtask/internal/config"
)

// endpoint returns the account's identity endpoints: the provider's
// preset, with each URL the file sets taking its place (custom providers,
// Microsoft's national clouds, tests).
func endpoint(o *config.OAuth2) oauth2.Endpoint {
	var ep oauth2.Endpoint
	switch o.Provider {
	case config.ProviderMicrosoft:
		ep = microsoft.AzureADEndpoint(o.Tenant)
	case config.ProviderGoogle:
		ep = endpoints.Google
	}
	if o.AuthURL != "" {
		ep.AuthURL = o.AuthURL
	}
	if o.TokenURL != "" {
		ep.TokenURL = o.TokenURL
	}
	if o.DeviceURL != "" {
		ep.DeviceAuthURL = o.DeviceURL
	}
	return ep
}

// identityScopes are added to a sign-in so that the platform says who
// signed in (an ID token), which `auth login` checks against the account's
// username. They are not needed, and not asked for, on refresh.
func identityScopes(provider string) []string {
	switch provider {
	case config.ProviderMicrosoft:
		return []string{"openid", "profile", "email"}
	case config.ProviderGoogle:
		return []string{"openid", "email"}
	}
	return nil
}

// authURLParams are the provider-specific parameters of the sign-in page:
// the mailbox as a login hint, and for Google the two without which it
// issues no refresh token.
func authURLParams(o *config.OAuth2, username string) []oauth2.AuthCodeOption {
	opts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("login_hint", username)}
	switch o.Provider {
	case config.ProviderMicrosoft:
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "select_account"))
	case config.ProviderGoogle:
		opts = append(opts, oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	return opts
}
