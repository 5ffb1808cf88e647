package popimap

import (
	"context"
	"fmt"
	"log/slog"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/mailbox/imap"
	"mailtask/internal/mailbox/pop3"
)

// dial opens a session of the account's protocol. It is the one place that
// knows which protocols exist.
func dial(ctx context.Context, a *config.Account, log *slog.Logger) (mailbox.Session, error) {
	password, err := a.ResolvePassword()
	if err != nil {
		return nil, err
	}
	// Each case checks its own error: a nil *Session in the interface
	// would not be a nil Session.
	switch a.Protocol {
	case config.ProtocolIMAP:
		s, err := imap.Dial(ctx, a, password)
		if err != nil {
			return nil, err
		}
		return s, nil
	case config.ProtocolPOP3:
		s, err := pop3.Open(ctx, a, password, log)
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("account %q: protocol %q is not supported", a.Name, a.Protocol)
	}
}
