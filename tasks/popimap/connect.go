package popimap

import (
	"context"
	"fmt"
	"log/slog"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/mailbox/imap"
	"mailtask/internal/mailbox/pop3"
)

// open opens a session of the account's protocol signed in with cred,
// which refuses a message larger than maxSize bytes (0: the default of
// mailbox.DefaultMaxMessageSize), with the TLS settings and sessions of
// tlsc (nil: fresh ones). It is the one place that knows which protocols
// exist.
func open(ctx context.Context, a *config.Account, cred auth.Credential, maxSize int64, tlsc *mailbox.TLSCache, log *slog.Logger) (mailbox.Session, error) {
	// Each case checks its own error: a nil *Session in the interface
	// would not be a nil Session.
	switch a.Protocol {
	case config.ProtocolIMAP:
		s, err := imap.DialCached(ctx, a, cred, tlsc)
		if err != nil {
			return nil, err
		}
		s.SetLogger(log)
		s.LimitMessageSize(maxSize)
		return s, nil
	case config.ProtocolPOP3:
		s, err := pop3.OpenCached(ctx, a, cred, log, tlsc)
		if err != nil {
			return nil, err
		}
		s.LimitMessageSize(maxSize)
		return s, nil
	default:
		return nil, fmt.Errorf("account %q: protocol %q is not supported", a.Name, a.Protocol)
	}
}
