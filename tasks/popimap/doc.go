// Package popimap is the PopImapTask: one run of a task polls its mailbox,
// takes the messages it has not taken yet, writes their attachments into
// the destination, records them in the task's state, and only then applies
// the after-action on the server.
//
// The order is what makes mailtask trustworthy:
//
//  1. files are written under temporary names, fsynced and linked into
//     place without ever overwriting (sink);
//  2. the directory is fsynced, then the messages' fingerprints are
//     appended to the ledger and the state file is replaced atomically;
//  3. only then are messages marked, moved or deleted on the server.
//
// A crash anywhere leaves either nothing committed (the next run fetches
// the message again, finds its files already there byte for byte, and adds
// no copy) or everything committed. A UIDVALIDITY change makes every UID
// new, and the ledger recognises each message already taken by its content.
//
// Within a batch, receiving, parsing and writing overlap (pipeline.go):
// messages are spooled as they arrive (spool.go), parsed concurrently, their
// files written concurrently under no name yet (plan in outputs.go), made
// durable together, named in message order, then committed together.
//
// A message kept aside whole (quarantine.go) can be taken again from its
// copy by the same stages, without the mailbox (copies.go).
//
// What the server's search of the rules leaves out is recorded as done
// only once a later search, search_settle on, still leaves it out: a
// search index that lags behind new mail costs none (searchlag.go).
package popimap
