// Package state owns what mailtask remembers about a task between runs and
// the guarantees around it: the state file (which UIDs or UIDLs are done,
// which messages were quarantined, how the last run went), the lock that
// keeps two runners off one task, and the ledger of message fingerprints
// that keeps a crash or a UIDVALIDITY change from ingesting a message twice.
//
// Files live side by side in the state directory:
//
//	<task>.json    the State, replaced atomically (temp file, fsync, rename,
//	               directory fsync) and readable only by its owner
//	<task>.lock    flock(2)ed by the running process, holding its pid
//	<task>.ledger  append-only 8-byte fingerprints, fsynced on every append
//	<task>.uidls.0 the POP3 UIDL log (one of the two files, the one the
//	<task>.uidls.1 state names): hashed UIDLs, appended to on each save
//	               that changed them, rewritten into the other file when
//	               mostly stale
//	<task>.idle    what the daemon's IDLE watcher last reported (idle =
//	               true), for `mailtask status`
//
// The ledger is separate from the JSON because it must be durable before
// the state is saved: files are written, their message is appended to the
// ledger, and only then is the state committed. A crash in between leaves a
// ledger entry that tells the next run the message is already taken.
package state
