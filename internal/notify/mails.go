package notify

import (
	"context"
	"log/slog"

	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/diagnose"
)

// Mails sends the mails about tasks that runs record as due, at the start
// of every window (Window), until ctx ends; the daemon runs it beside the
// scheduler, whose runs only record. current is the configuration in
// force. In cluster mode every node runs it and one node a window sends
// (store's SendDue). A window whose mails cannot be sent is logged; they
// go with the next.
func Mails(ctx context.Context, current func() *config.Config, store Store, clk clock.Clock, log *slog.Logger) {
	for {
		now := clk.Now()
		next := now.Truncate(Window).Add(Window)
		timer := clk.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C():
		}
		cfg := current()
		if _, err := SendDue(ctx, cfg, store, next, log); err != nil {
			log.Error("could not send the mails about tasks; they go with the next window", "window", Window, "err", err, "hint", diagnose.Hint(err))
		}
	}
}
