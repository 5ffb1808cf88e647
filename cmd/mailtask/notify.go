package main

import (
	"context"
	"fmt"
	"time"

	"mailtask/internal/diagnose"
	"mailtask/internal/notify"
)

// notifyCmd sends a test mail or the digest through [notify], so that an
// admin can check the SMTP settings before a failure depends on them, and
// send the digest from cron.
func notifyCmd(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || (args[0] != "test" && args[0] != "digest") {
		return usageError{"usage: mailtask notify test|digest [--config F]"}
	}
	verb := args[0]
	fs := newFlags(e, "notify "+verb, "[--config F]")
	cfgPath := fs.String("config", "", "configuration file")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if cfg.Notify == nil {
		return usageError{fmt.Sprintf("%s has no [notify] section", cfg.File)}
	}
	log := newLogger(e.stderr, cfg.LogFormat, cfg.Level())
	if verb == "digest" {
		err = notify.SendDigest(ctx, cfg, time.Now(), log)
	} else {
		var m *notify.Mailer
		if m, err = notify.New(cfg, log); err == nil {
			err = m.Send(ctx, "mailtask: test notification", fmt.Sprintf(
				"This is a test of the notifications configured in %s.\nFailures of tasks will be mailed like this, to %v.\n", cfg.File, cfg.Notify.To))
		}
	}
	if err != nil {
		reportNotifyError(e, err)
		return silentFailure
	}
	fmt.Fprintf(e.stdout, "sent to %v through %s\n", cfg.Notify.To, cfg.Notify)
	return nil
}

func reportNotifyError(e *env, err error) {
	fmt.Fprintf(e.stderr, "mailtask: could not send the notification: %v\n", err)
	if hint := diagnose.Hint(err); hint != "" {
		fmt.Fprintf(e.stderr, "hint: %s\n", hint)
	}
}
