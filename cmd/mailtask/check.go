package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/pathtmpl"
	"mailtask/internal/s3url"
	"mailtask/tasks/popimap"
)

func checkFlags(fs *flag.FlagSet) runFunc {
	cfgPath := configFlag(fs)
	level := logLevelFlag(fs, "warn")
	return func(ctx context.Context, e *env, positional []string) error {
		return check(ctx, e, *cfgPath, *level, positional)
	}
}

func check(ctx context.Context, e *env, cfgPath, level string, positional []string) error {
	lvl, err := logLevel(level)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	task, err := oneTask("check", cfg, positional)
	if err != nil {
		return err
	}
	acct := cfg.Accounts[task.Account]
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: lvl}))
	node, err := openNode(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeNode(node)

	fmt.Fprintf(e.stdout, "check %s: account %q, %s %s:%d, %s\n", task.Name, acct.Name, acct.Protocol, acct.Host, acct.Port, describeAuth(acct))
	for _, w := range authWarnings(ctx, acct, tokenStore(cfg, node)) {
		fmt.Fprintf(e.stdout, "  warning: %s\n", w)
	}
	if clustered(node) {
		// The check's connection counts against max_connections as a run's.
		slot, err := node.TrySlot(ctx, acct.Name, acct.MaxConnections, nil, nil)
		if err == nil && slot == nil {
			fmt.Fprintf(e.stderr, "waiting for a free connection: the %d connections of account %q are in use across the cluster\n", acct.MaxConnections, acct.Name)
			slot, err = node.Slot(ctx, acct.Name, acct.MaxConnections, nil)
		}
		if err != nil {
			return err
		}
		defer slot.Release()
	}
	report := func(s popimap.CheckStep) {
		if s.Err == nil {
			fmt.Fprintf(e.stdout, "  %-13s ok      %s\n", s.Name, s.Detail)
			return
		}
		fmt.Fprintf(e.stdout, "  %-13s failed  %v\n", s.Name, s.Err)
		if hint := diagnose.Hint(s.Err); hint != "" {
			fmt.Fprintf(e.stdout, "  hint: %s\n", hint)
		}
	}
	ok := popimap.Check(ctx, popimap.Options{Config: cfg, Task: task, Log: log, Shared: shared(node)}, report)
	// The object store is asked even when the mailbox failed: an operator
	// setting up a node learns of both at once.
	if root, _ := pathtmpl.SplitRoot(task.Destination); s3url.Is(root) {
		detail, err := node.CheckDestination(ctx, root)
		report(popimap.CheckStep{Name: "destination", Detail: detail, Err: err})
		ok = ok && err == nil
	}
	if !ok {
		return errReported
	}
	fmt.Fprintf(e.stdout, "%s: ok, a run can reach its mailbox\n", task.Name)
	return nil
}

func describeAuth(a *config.Account) string {
	if a.Auth != config.AuthOAuth2 {
		return "password"
	}
	o := a.OAuth2
	s := fmt.Sprintf("oauth2 (%s, %s", o.Provider, o.Flow)
	if o.Tenant != "" {
		s += ", tenant " + o.Tenant
	}
	return s + ")"
}

// authWarnings are what needs an admin's attention soon: a client secret
// about to expire, a Microsoft refresh token close to its idle limit.
func authWarnings(ctx context.Context, a *config.Account, store auth.TokenStore) []string {
	if a.Auth != config.AuthOAuth2 {
		return nil
	}
	now := time.Now()
	var ws []string
	if w := auth.CredentialExpiryWarning(a, now); w != "" {
		ws = append(ws, w)
	}
	rec, err := store.Load(ctx, auth.KeyOf(a))
	if err != nil {
		ws = append(ws, err.Error())
	} else if w := auth.RefreshAgeWarning(rec, now); w != "" {
		ws = append(ws, w)
	}
	return ws
}
