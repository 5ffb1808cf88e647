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
// worked out anew from it. store (nil: the files under state_dir) has the
// states the digest reports and says which process sends each: in cluster
// mode every node runs this loop and the one that claims a scheduled time
// first sends its digest, by its scheduled time, which all nodes agree on,
// rather than when each node's timer fires, and once the database's
// clock says it has come, whatever the node's says. A digest that cannot
// be sent is logged and the next one tried on schedule.
func Digests(ctx context.Context, current func() *config.Config, reloaded <-chan struct{}, store Store, clk clock.Clock, log *slog.Logger) {
	for {
		var (
			timer clock.Timer
			fire  <-chan time.Time // nil, never ready, without a schedule
		)
		now := clk.Now()
		next, ok := nextDigest(current(), now, log)
		if ok {
			timer = clk.NewTimer(next.Sub(now))
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
		case <-reloaded:
		case <-fire:
			digestDue(ctx, current(), store, next, clk, log)
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// digestDue sends the digest scheduled at due, unless another node of the
// cluster claimed it.
func digestDue(ctx context.Context, cfg *config.Config, store Store, due time.Time, clk clock.Clock, log *slog.Logger) {
	claimed, err := claimDigest(ctx, storeOf(cfg, store, log), due, clk, log)
	if ctx.Err() != nil {
		return
	}
	if err == nil && !claimed {
		log.Info("digest left to the node that claimed it", "due", due)
		return
	}
	if err == nil {
		err = SendDigest(ctx, cfg, store, due, log)
	}
	if err != nil {
		log.Error("could not send the digest", "due", due, "err", err, "hint", diagnose.Hint(err))
		return
	}
	// The due time names the digest as the other nodes' "left to the node
	// that claimed it" lines do, so that the logs of a cluster show who
	// sent which.
	log.Info("digest sent", "due", due, "to", cfg.Notify.To)
}

// claimDigest claims the digest scheduled at due once it has come by the
// store's clock: a node whose clock runs ahead of the database's waits
// for it there, so that it neither sends the digest early nor, far
// enough ahead, the next schedule's too, and its "since" is the
// cluster's. The wait is a duration, which the node's clock measures
// well, however wrong the time it shows.
func claimDigest(ctx context.Context, store Store, due time.Time, clk clock.Clock, log *slog.Logger) (bool, error) {
	for {
		claimed, wait, err := store.ClaimDigest(ctx, due)
		if err != nil || wait <= 0 {
			return claimed, err
		}
		log.Info("the digest is not due yet by the database's clock, which this node's runs ahead of: waiting for it", "due", due, "wait", wait)
		timer := clk.NewTimer(wait)
		select {
		case <-timer.C():
		case <-ctx.Done():
			timer.Stop()
			return false, ctx.Err()
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
