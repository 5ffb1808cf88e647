package popimap

import (
	"context"
	"fmt"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/mailbox/imap"
)

// dial opens a session of the account's protocol. It is the one place that
// knows which protocols exist.
func dial(ctx context.Context, a *config.Account) (mailbox.Session, error) {
	password, err := a.ResolvePassword()
	if err != nil {
		return nil, err
	}
	switch a.Protocol {
	case config.ProtocolIMAP:
		return imap.Dial(ctx, a, password)
	default:
		return nil, fmt.Errorf("account %q: protocol %q is not supported", a.Name, a.Protocol)
	}
}
