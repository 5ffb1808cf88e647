// Package cluster wires cluster mode for the pipeline, the scheduler and
// the commands: several `mailtask run` processes (nodes) with the same
// configuration share one PostgreSQL database (package pgstore) for task
// leases, state, tokens and connection slots, and write s3://
// destinations into an object store (package objsink).
//
// A Node is one process's share of it. It gives a run what the file
// store's runs find under state_dir: the task's state under the lease the
// node holds (Held, a popimap.Held whose commits are fenced), OAuth2
// tokens in the database (a auth.TokenStore whose updates run under the
// token's row lock, so that a rotating refresh token is spent once across
// the cluster), destinations in the object store, and connection slots
// counted across the cluster (Slot). Hold keeps a lease renewed while a
// run goes and cancels the run the moment a renewal fails.
//
// It knows nothing of the pipeline itself: package popimap declares what
// it needs (Held, Shared) and the scheduler and the commands hand a Node's
// implementations in.
package cluster
