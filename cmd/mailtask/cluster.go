package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/cluster"
	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/pgstore"
	"mailtask/tasks/popimap"
)

// openTimeout bounds connecting to the database when a command starts,
// and giving a lease back when it ends.
const openTimeout = 30 * time.Second

// openNode opens this process's share of cluster mode when cfg needs one
// (a state_store, or an s3:// destination); nil otherwise. Close it when
// done.
func openNode(ctx context.Context, cfg *config.Config) (*cluster.Node, error) {
	return openNodeAs(ctx, cfg, false)
}

// openNodeAs is openNode; daemon says the process is a node of the
// cluster (`mailtask run`), which the database's nodes table records.
func openNodeAs(ctx context.Context, cfg *config.Config, daemon bool) (*cluster.Node, error) {
	if !cluster.Needed(cfg) {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	// Every run renews its lease and its connection slots and commits on
	// a connection of its own now and then, besides claims and tokens;
	// at most 32, since PostgreSQL serves 100 connections by default.
	node, err := cluster.Open(ctx, cfg, cluster.Options{MaxConns: int32(min(4+2*cfg.MaxConcurrentTasks, 32)), Announce: daemon})
	var ce *config.Error
	if errors.As(err, &ce) {
		return nil, err // it names the file already
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.File, err)
	}
	return node, nil
}

// startPatience is how long `mailtask run` waits at start for a database
// that does not answer — restarting, failing over, or behind a pooler
// that has not reached it again (PgBouncer refuses logins for 15 s after
// one failed) — before it exits for its service manager to start it
// again. Less than the contrib Deployment's liveness probe allows (three
// failures 30 s apart), which the daemon answers only once it runs.
const startPatience = time.Minute

// openNodePatiently is openNode for the daemon: while the database does
// not answer it tries again every second, for up to startPatience, so
// that nodes restarted during a short outage come up when it ends rather
// than after their service manager's growing back-off.
func openNodePatiently(ctx context.Context, cfg *config.Config, log *slog.Logger) (*cluster.Node, error) {
	giveUp := time.Now().Add(startPatience)
	for tries := 1; ; tries++ {
		node, err := openNodeAs(ctx, cfg, true)
		if err == nil && tries > 1 {
			log.Info("the database answers", "tries", tries)
		}
		if err == nil || !diagnose.DatabaseDown(err) || time.Now().After(giveUp) {
			return node, err
		}
		if tries == 1 {
			log.Warn("the database does not answer; trying again every second for up to "+startPatience.String(), "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Second):
		}
	}
}

// closeNode closes node, if there is one.
func closeNode(node *cluster.Node) {
	if node != nil {
		node.Close()
	}
}

// clustered reports whether node keeps the state in a database.
func clustered(node *cluster.Node) bool { return node != nil && node.Store() != nil }

// shared is what a run gets of node: nil for the file store and folders.
func shared(node *cluster.Node) popimap.Shared {
	if node == nil {
		return nil
	}
	return node
}

// tokenStore is where node keeps OAuth2 tokens: the database, or the
// files under state_dir.
func tokenStore(cfg *config.Config, node *cluster.Node) auth.TokenStore {
	if clustered(node) {
		return node.Tokens()
	}
	return auth.Store{Dir: auth.StoreDir(cfg.StateDir)}
}

// runHeld runs a task once as `mailtask run-task` does in cluster mode: it
// claims the task's lease whether or not the task is due (another node
// holding it is a *pgstore.HeldError: exit 3, as the file lock), takes a
// connection slot of the account across the cluster, keeps both renewed
// while run runs, and gives them back. A lost lease stops the run.
func runHeld(ctx context.Context, node *cluster.Node, opts popimap.Options, run popimap.RunFunc, log *slog.Logger) (popimap.Summary, error) {
	task := opts.Task
	lease, err := node.Store().ClaimTask(ctx, task.Name, node.Lease())
	if err != nil {
		return popimap.Summary{Task: task.Name}, err
	}
	held, stop := node.Hold(ctx, lease)
	defer func() {
		if stop() == nil {
			releaseLease(lease, log)
		}
	}()
	account := opts.Config.Accounts[task.Account]
	lost := func(err error) {
		log.Warn("a connection slot of the account was lost", "account", account.Name, "err", err)
	}
	slot, err := node.TrySlot(held, account.Name, account.MaxConnections, lost, lease)
	if err == nil && slot == nil {
		log.Info("waiting for a free connection: the account's max_connections are in use across the cluster", "account", account.Name, "max", account.MaxConnections)
		slot, err = node.Slot(held, account.Name, account.MaxConnections, lost)
	}
	if err != nil {
		return popimap.Summary{Task: task.Name}, cluster.LeaseLost(held, err)
	}
	defer slot.Release()
	opts.Held = node.Held(lease, nil)
	opts.MoreConnections = func() (func(), bool) {
		slot, err := node.TrySlot(held, account.Name, account.MaxConnections, lost, nil)
		if slot == nil || err != nil {
			return nil, false
		}
		return slot.Release, true
	}
	sum, err := run(held, opts)
	return sum, cluster.LeaseLost(held, err)
}

// releaseLease gives a lease back, the task due as it was.
func releaseLease(l *pgstore.Lease, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	if err := l.Release(ctx, time.Time{}); err != nil {
		log.Warn("could not give the task's lease back; it runs out by itself", "task", l.Task, "err", err)
	}
}

// isHeld reports whether err says the task is running elsewhere: another
// process holds its lock file, or another node its lease.
func isHeld(err error) bool {
	var held *pgstore.HeldError
	return isLocked(err) || errors.As(err, &held)
}
