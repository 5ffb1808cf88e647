// Package mailbox is the one seam between the ingestion pipeline and the
// mail protocols: a Session lists the messages a task has not yet taken,
// streams them, and applies the after-action to those safely committed.
// The imap and pop3 subpackages implement it; the pipeline never knows
// which one it holds.
package mailbox
