package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/metrics"
	"mailtask/internal/notify"
	"mailtask/internal/scheduler"
	"mailtask/internal/version"
)

func runDaemonFlags(fs *flag.FlagSet) runFunc {
	cfgPath := configFlag(fs)
	return func(ctx context.Context, e *env, _ []string) error { return runDaemon(ctx, e, *cfgPath) }
}

// runDaemon is `mailtask run`: every task with a schedule or idle, until
// stopped.
func runDaemon(ctx context.Context, e *env, cfgPath string) error {
	path := config.Find(cfgPath)
	cfg, err := loadDaemonConfig(path)
	if err != nil {
		return err
	}
	limitMemory(cfg.MaxConcurrentTasks, cfg.Tasks)
	stop := e.gracefulStop()
	level := new(slog.LevelVar)
	level.Set(cfg.Level())
	log := newLogger(e.stderr, cfg.LogFormat, level)

	node, err := openNodePatiently(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeNode(node)
	var current atomic.Pointer[config.Config] // the configuration in force
	current.Store(cfg)
	m := metrics.New()
	if clustered(node) {
		m.TrackCluster()
	}
	m.WatchCredentials(func() []metrics.Credential {
		cfg := current.Load()
		return credentials(cfg, tokenStore(cfg, node))
	})
	sched, err := scheduler.New(cfg, scheduler.Options{Run: e.taskRun(log), Log: log, Metrics: m, Stop: stop, Node: node})
	if err != nil {
		return err
	}
	asks := make(chan reloadAsk) // reloads asked for over the listener
	if cfg.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return fmt.Errorf("listen (%s: listen): %w", cfg.File, err)
		}
		srv := metrics.Serve(ln, withReload(m.Handler(sched.Health), asks), metrics.DefaultLimits)
		defer srv.Close()
		log.Info("serving /metrics and /healthz", "listen", ln.Addr().String())
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	runCtx, abandon := context.WithCancel(ctx)
	defer abandon()
	done := make(chan error, 1)
	go func() { done <- sched.Run(runCtx) }()
	digestReload := make(chan struct{}, 1)
	go notify.Digests(runCtx, current.Load, digestReload, node.Notify(), clock.Real, log)
	go notify.Mails(runCtx, current.Load, node.Notify(), clock.Real, log)
	attrs := []any{"version", version.String(), "config", cfg.File, "pid", os.Getpid(), "tasks", len(sched.Tasks()), "max_concurrent_tasks", cfg.MaxConcurrentTasks}
	if len(cfg.Include) > 0 {
		attrs = append(attrs, "files", 1+len(cfg.Included))
	}
	if clustered(node) {
		attrs = append(attrs, "node", node.Name(), "lease", node.Lease())
	}
	log.Info("mailtask daemon started", attrs...)
	for _, w := range cfg.WritableByOthers() {
		log.Warn(w)
	}
	if len(sched.Tasks()) == 0 {
		log.Warn("no task has a schedule or idle = true yet: waiting for a reload (SIGHUP) that brings one", "include", cfg.Include)
	}

	// apply reloads the configuration, asked for by why, and puts it in
	// force, or keeps the running one.
	apply := func(why string) reloadAnswer {
		next, err := reload(why, path, cfg, sched, level, log)
		if err != nil {
			return reloadAnswer{err: err}
		}
		current.Store(next)
		select {
		case digestReload <- struct{}{}:
		default: // one is pending already
		}
		return reloadAnswer{summary: reloadSummary(next, sched)}
	}

	var (
		grace     <-chan time.Time
		stopGrace time.Duration
		abandoned = false
	)
	for {
		select {
		case <-hup:
			apply("SIGHUP")
		case ask := <-asks:
			ask <- apply("POST " + reloadPath)
		case <-stop:
			// stop_grace bounds a graceful stop: runs still going this long
			// after the signal are abandoned (nothing uncommitted is kept,
			// and the next run takes those messages again).
			stop = nil
			stopGrace = current.Load().StopGrace.Std()
			log.Info("stop requested: no new runs; runs in progress finish the message in hand, commit and log out (signal again to exit at once)", "grace", stopGrace)
			grace = time.After(stopGrace)
		case <-grace:
			grace = nil
			abandoned = true
			log.Warn("runs did not finish within the grace period; abandoning them (what they committed stays)", "grace", stopGrace)
			abandon()
		case err := <-done:
			if err == nil && abandoned {
				err = fmt.Errorf("runs were abandoned after %s", stopGrace)
			}
			if err == nil && ctx.Err() != nil {
				err = ctx.Err()
			}
			if err != nil {
				log.Error("mailtask daemon stopped uncleanly", "err", err)
				return errReported
			}
			flushMails(ctx, current.Load(), node.Notify(), log)
			log.Info("mailtask daemon stopped")
			return nil
		}
	}
}

// flushMails sends, as a daemon stops cleanly, the mails its last runs
// recorded, which the window loop would have sent within the minute: a
// daemon stopped for good would otherwise keep a task's failure to itself
// (the file store's outbox waits for its next start or run-task). Only a
// window in which nothing went out yet is sent now; else the mails wait
// for the next start, or in cluster mode for the other nodes' next window.
func flushMails(ctx context.Context, cfg *config.Config, store notify.Store, log *slog.Logger) {
	left, err := notify.SendDue(ctx, cfg, store, time.Now(), log)
	switch {
	case err != nil:
		log.Error("could not send the mails about tasks as the daemon stops; they go at its next start", "err", err, "hint", diagnose.Hint(err))
	case left:
		log.Info("mails about tasks went out in this window already; the rest go with the next", "window", notify.Window)
	}
}

// reload applies the file at path, and the files its include matches now,
// and returns it, or keeps the running configuration when the new one is
// invalid and returns why. Settings read only at start are reported, not
// applied. why is what asked for it (SIGHUP).
func reload(why, path string, running *config.Config, sched *scheduler.Scheduler, level *slog.LevelVar, log *slog.Logger) (*config.Config, error) {
	log.Info(why+": reloading the configuration", "config", path)
	cfg, err := loadDaemonConfig(path)
	if err == nil {
		err = sched.Reload(cfg)
	}
	if err != nil {
		log.Error("the new configuration is invalid; keeping the running one", "err", err)
		return nil, err
	}
	level.Set(cfg.Level())
	if keys := startOnly(running, cfg); len(keys) > 0 {
		log.Warn("settings read only when the daemon starts have changed: restart it for them to take effect", "settings", strings.Join(keys, ", "))
	}
	attrs := []any{"tasks", len(sched.Tasks())}
	if len(cfg.Include) > 0 {
		attrs = append(attrs, "files", 1+len(cfg.Included))
	}
	log.Info("configuration reloaded", attrs...)
	return cfg, nil
}

// reloadSummary says what a reload put in force, for `mailtask reload`.
func reloadSummary(cfg *config.Config, sched *scheduler.Scheduler) string {
	s := fmt.Sprintf("configuration reloaded: %d scheduled tasks", len(sched.Tasks()))
	if len(cfg.Include) > 0 {
		s += fmt.Sprintf(", %d files", 1+len(cfg.Included))
	}
	return s
}

// credentials lists the expiring credentials cfg knows of, for the
// metrics: OAuth2 client secrets whose client_secret_expires is set,
// client certificates, and Microsoft refresh tokens in the token store,
// which lapse after 90 days unused.
func credentials(cfg *config.Config, store auth.TokenStore) []metrics.Credential {
	var list []metrics.Credential
	// Reading a certificate with its key costs over a millisecond (the
	// key's checks), and the accounts of one app, thousands with
	// include, share its file: each is read once per scrape.
	certExpiry := map[[2]string]time.Time{}
	for _, name := range slices.Sorted(maps.Keys(cfg.Accounts)) {
		o := cfg.Accounts[name].OAuth2
		if o == nil {
			continue
		}
		if !o.ClientSecretExpires.IsZero() {
			list = append(list, metrics.Credential{Account: name, Kind: "client_secret", Expires: o.ClientSecretExpires.In(time.Local)})
		}
		// Read at each scrape, so that a rotated certificate shows at once;
		// one that does not load is reported by the runs that need it.
		if o.HasClientCertificate() {
			files := [2]string{o.ClientCertificateFile, o.ClientKeyFile}
			expires, ok := certExpiry[files]
			if !ok {
				if c, err := auth.LoadClientCertificate(cfg.Accounts[name]); err == nil {
					expires = c.Cert.NotAfter
				}
				certExpiry[files] = expires
			}
			if !expires.IsZero() {
				list = append(list, metrics.Credential{Account: name, Kind: "client_certificate", Expires: expires})
			}
		}
		// A record that cannot be read is reported by the runs that need it.
		if rec, err := store.Load(context.Background(), auth.KeyOf(cfg.Accounts[name])); err == nil {
			if expires, ok := auth.RefreshExpiry(rec); ok {
				list = append(list, metrics.Credential{Account: name, Kind: "refresh_token", Expires: expires})
			}
		}
	}
	return list
}

// loadDaemonConfig loads the config and checks that the daemon has
// something to do. With include, nothing to do is a configuration waiting
// for its files (the first customer's, or after the last one's went):
// the daemon runs, and a reload brings the tasks.
func loadDaemonConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if len(cfg.Include) > 0 || slices.ContainsFunc(cfg.Tasks, (*config.Task).Scheduled) {
		return cfg, nil
	}
	return nil, &config.Error{File: cfg.File, Msg: `no task has a schedule or idle = true, so "mailtask run" has nothing to do: add e.g. schedule = "*/5 * * * *" (or, for IMAP, idle = true) to a [[task]], or run tasks with "mailtask run-task NAME"`}
}
