package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/notify"
)

// notifyFlags declares the flags of `notify test` and `notify digest`,
// which an admin runs to check the SMTP settings before a failure depends
// on them, and to send the digest from cron.
func notifyFlags(send func(ctx context.Context, cfg *config.Config, log *slog.Logger) error) func(fs *flag.FlagSet) runFunc {
	return func(fs *flag.FlagSet) runFunc {
		cfgPath := configFlag(fs)
		return func(ctx context.Context, e *env, _ []string) error {
			cfg, err := loadConfig(*cfgPath)
			if err != nil {
				return err
			}
			if cfg.Notify == nil {
				return usageError{fmt.Sprintf("%s has no [notify] section", cfg.File)}
			}
			if err := send(ctx, cfg, newLogger(e.stderr, cfg.LogFormat, cfg.Level())); err != nil {
				reportNotifyError(e, err)
				return errReported
			}
			fmt.Fprintf(e.stdout, "sent to %v through %s\n", cfg.Notify.To, cfg.Notify)
			return nil
		}
	}
}

// notifyTest sends a test mail, signing in as a failure's mail would: in
// cluster mode with the tokens in the database.
func notifyTest(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	node, err := openNode(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeNode(node)
	m, err := notify.New(cfg, node.Notify(), log)
	if err != nil {
		return err
	}
	return m.Send(ctx, "mailtask: test notification", fmt.Sprintf(
		"This is a test of the notifications configured in %s.\nFailures of tasks will be mailed like this, to %v.\n", cfg.File, cfg.Notify.To))
}

// notifyDigest sends the digest at once, from the database's states in
// cluster mode; unlike the daemons' scheduled digests it claims nothing.
func notifyDigest(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	node, err := openNode(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeNode(node)
	return notify.SendDigest(ctx, cfg, node.Notify(), time.Now(), log)
}

func reportNotifyError(e *env, err error) {
	fmt.Fprintf(e.stderr, "mailtask: could not send the notification: %v\n", err)
	if hint := diagnose.Hint(err); hint != "" {
		fmt.Fprintf(e.stderr, "hint: %s\n", hint)
	}
}
