package notify

import (
	"context"
	"log/slog"
	"time"

	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/diagnose"
)

// Digests sends the digest on [notify]'s digest schedule until ctx ends;
// the daemon runs it beside the scheduler. current is the configuration in
// force; a value on reloaded says it changed (SIGHUP), and the schedule is
// worked out anew from it. A digest that cannot be sent is logged and the
// next one tried on schedule.
func Digests(ctx context.Context, current func() *config.Config, reloaded <-chan struct{}, clk clock.Clock, log *slog.Logger) {
	for {
		var (
			timer clock.Timer
			fire  <-chan time.Time // nil, never ready, without a schedule
		)
		now := clk.Now()
		if next, ok := nextDigest(current(), now, log); ok {
			timer = clk.NewTimer(next.Sub(now))
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
		case <-reloaded:
		case at := <-fire:
			cfg := current()
			if err := SendDigest(ctx, cfg, at, log); err != nil {
				log.Error("could not send the digest", "err", err, "hint", diagnose.Hint(err))
			} else {
				log.Info("digest sent", "to", cfg.Notify.To)
			}
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// nextDigest is when cfg's digest is next due after now; false when cfg
// has no digest schedule.
func nextDigest(cfg *config.Config, now time.Time, log *slog.Logger) (time.Time, bool) {
	if cfg.Notify == nil || cfg.Notify.Digest == "" {
		return time.Time{}, false
	}
	sched, err := config.ParseSchedule(cfg.Notify.Digest)
	if err != nil { // validated when the file was loaded
		log.Error("[notify] digest", "err", err)
		return time.Time{}, false
	}
	return sched.Next(now), true
}
