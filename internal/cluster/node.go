package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/config"
	"mailtask/internal/objsink"
	"mailtask/internal/pgstore"
	"mailtask/internal/s3url"
	"mailtask/internal/sink"
	"mailtask/internal/state"
)

// Node is one process of a cluster: its connection to the shared
// database, if the configuration has a state_store, and its client of the
// object store, once a destination needs one. Settings of cluster mode
// (state_store, token key, lease, s3_*) are read when the node opens; a
// reload does not change them.
type Node struct {
	store    *pgstore.Store // nil for the file store
	lease    time.Duration
	stateDir string
	s3cfg    func(context.Context) (*s3.Client, error)
	// createOnly is s3_create_only; probes what the node learnt of its
	// stores' create-only puts, for every destination it opens.
	createOnly objsink.CreateOnly
	probes     objsink.Probes

	mu sync.Mutex
	s3 *s3.Client

	announced announced
}

// Options are what Open needs besides the configuration.
type Options struct {
	// Name names the node in leases, run history and its database
	// connections' application_name ("mailtask NAME"); "" means the host
	// name and the process ID.
	Name string
	// MaxConns bounds the node's pool of database connections; 0 means
	// pgstore's default.
	MaxConns int32
	// Announce makes the process a node of the database's nodes table
	// (`mailtask run`), recorded as it opens and whenever Announce finds
	// its configuration changed; commands are no nodes.
	Announce bool
}

// Needed reports whether cfg needs a Node: it keeps its state in a
// database, or a task writes to an object store.
func Needed(cfg *config.Config) bool {
	if cfg.SharedState() {
		return true
	}
	for _, t := range cfg.Tasks {
		if s3url.Is(t.Destination) {
			return true
		}
	}
	return false
}

// Open opens the node cfg describes. It connects to the database (and
// checks its schema) if cfg has a state_store; the object store is
// reached when a destination is first opened.
func Open(ctx context.Context, cfg *config.Config, o Options) (*Node, error) {
	n := &Node{lease: cfg.LeaseTime(), stateDir: cfg.StateDir}
	if cfg.S3CreateOnly == config.S3CreateOnlyCheckFirst {
		n.createOnly = objsink.CheckFirst
	}
	n.s3cfg = func(ctx context.Context) (*s3.Client, error) { return newS3Client(ctx, cfg) }
	if !cfg.SharedState() {
		return n, nil
	}
	url, err := cfg.StateStoreURL()
	if err != nil {
		return nil, err
	}
	keys, err := cfg.ResolveTokenKeys()
	if err != nil {
		return nil, &config.Error{File: cfg.File, Key: "token_key", Msg: err.Error()}
	}
	po := pgstore.Options{
		URL: url.Reveal(), Node: o.Name, MaxConns: o.MaxConns,
		TokenKey: keys.Current, TokenKeySetting: cfg.TokenKeySetting(),
		PreviousTokenKey: keys.Previous, PreviousTokenKeySetting: cfg.TokenKeyPreviousSetting(),
	}
	if o.Announce {
		a := announcement(cfg)
		po.Announce, n.announced.last = &a, &a
	}
	n.store, err = pgstore.Open(ctx, po)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// newS3Client is the object store's client as cfg's s3_* keys, or else
// the standard AWS environment, describe it.
func newS3Client(ctx context.Context, cfg *config.Config) (*s3.Client, error) {
	id, secret, err := cfg.ResolveS3Credentials()
	if err != nil {
		return nil, err
	}
	return objsink.NewClient(ctx, objsink.ClientConfig{
		Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, PathStyle: cfg.S3PathStyle,
		AccessKeyID: id.Reveal(), SecretAccessKey: secret.Reveal(),
	})
}

// Close closes the node's connections.
func (n *Node) Close() {
	if n.store != nil {
		n.store.Close()
	}
}

// Store is the shared database; nil for the file store.
func (n *Node) Store() *pgstore.Store { return n.store }

// Name is the node's name in leases and the run history; "" for the file
// store.
func (n *Node) Name() string {
	if n.store == nil {
		return ""
	}
	return n.store.Node()
}

// Lease is how long the node holds a task's lease (and a connection slot)
// between two renewals: the lease setting.
func (n *Node) Lease() time.Duration { return n.lease }

// Destination opens root, a task's destination up to its first variable,
// for owner: in the object store for an s3:// root, with the dedupe index
// of the database if there is one; else a folder. popimap.Shared.
func (n *Node) Destination(ctx context.Context, root, owner, spoolDir string) (sink.Destination, error) {
	if !s3url.Is(root) {
		d, err := sink.Open(root, owner)
		if err != nil {
			return nil, err
		}
		return sink.Local(d), nil
	}
	client, err := n.client(ctx)
	if err != nil {
		return nil, err
	}
	o := objsink.Options{Root: root, Client: client, SpoolDir: spoolDir, CreateOnly: n.createOnly, Probes: &n.probes}
	if n.store != nil {
		o.Index = n.store.DedupeIndex(root)
	}
	return objsink.Open(o)
}

// client returns the object store's client, made on first use.
func (n *Node) client(ctx context.Context) (*s3.Client, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.s3 == nil {
		c, err := n.s3cfg(ctx)
		if err != nil {
			return nil, fmt.Errorf("the object store: %w", err)
		}
		n.s3 = c
	}
	return n.s3, nil
}

// LoadState reads the state of task without holding it: from the
// database, or from state_dir. popimap.Shared.
func (n *Node) LoadState(ctx context.Context, task string) (*state.State, error) {
	if n.store == nil {
		return state.Load(n.stateDir, task)
	}
	return n.store.LoadState(ctx, task)
}
