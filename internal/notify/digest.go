package notify

import (
	"context"
	"log/slog"

	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/diagnose"
)

// Digests sends the digest on [notify]'s digest schedule until ctx ends;
// the daemon runs it beside the scheduler. It returns at once when there
// is no digest schedule. A digest that cannot be sent is logged and the
// next one tried on schedule.
func Digests(ctx context.Context, cfg *config.Config, clk clock.Clock, log *slog.Logger) {
	if cfg.Notify == nil || cfg.Notify.Digest == "" {
		return
	}
	sched, err := config.ParseSchedule(cfg.Notify.Digest)
	if err != nil { // validated when the file was loaded
		log.Error("[notify] digest", "err", err)
		return
	}
	for {
		now := clk.Now()
		t := clk.NewTimer(sched.Next(now).Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case at := <-t.C():
			if err := SendDigest(ctx, cfg, at, log); err != nil {
				log.Error("could not send the digest", "err", err, "hint", diagnose.Hint(err))
			} else {
				log.Info("digest sent", "to", cfg.Notify.To)
			}
		}
	}
}
