package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"

	"mailtask/internal/config"
	"mailtask/internal/pgstore"
	"mailtask/internal/version"
)

// announced is what a node (`mailtask run`) last said of itself in the
// database's nodes table; commands, which are not nodes, say nothing.
type announced struct {
	mu   sync.Mutex
	last *pgstore.Announcement // nil: the process is no node
}

// announcement is what a node running cfg says of itself.
func announcement(cfg *config.Config) pgstore.Announcement {
	return pgstore.Announcement{Version: version.String(), Config: ConfigDigest(cfg), Tasks: len(cfg.Tasks)}
}

// ConfigDigest tells configurations apart as far as the work of a
// cluster goes: the first 12 hex digits of the SHA-256 of the tasks, the
// accounts and the lease, as loaded (defaults filled in). Secrets are not
// in it (config.Secret marshals as "[redacted]"; the *_env and *_file
// keys name where they are, not what): a digest of a short password could
// be reversed by trying them all. What may differ between nodes without
// harm (listen, state_dir, max_concurrent_tasks, logging, notify) is left
// out, so that only a difference in what runs shows.
func ConfigDigest(cfg *config.Config) string {
	data, err := json.Marshal(struct {
		Accounts map[string]*config.Account
		Tasks    []*config.Task
		Lease    string
	}{cfg.Accounts, cfg.Tasks, cfg.LeaseTime().String()})
	if err != nil {
		// A loaded configuration is plain data; this would be a bug.
		panic("cluster: the configuration does not marshal: " + err.Error())
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:6])
}

// Announce records in the database what the node runs now, after a
// reload: a configuration the nodes table does not have yet, on a node
// (Options.Announce) of a database. It costs nothing when that did not
// change.
func (n *Node) Announce(ctx context.Context, cfg *config.Config) error {
	if n.store == nil {
		return nil
	}
	n.announced.mu.Lock()
	defer n.announced.mu.Unlock()
	a := announcement(cfg)
	if n.announced.last == nil || *n.announced.last == a {
		return nil
	}
	if err := n.store.Announce(ctx, a); err != nil {
		return err
	}
	n.announced.last = &a
	return nil
}
