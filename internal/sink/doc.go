// Package sink owns the last step of ingestion: putting bytes into a
// destination folder so that they are durable, never overwrite anything, and
// can never land outside that folder.
//
// Every file is written to a temporary name inside the destination, made
// durable (fsynced, or, where the filesystem can sync as a whole, covered
// by one Flush for many files: flush.go), then hard-linked to its final
// name, which fails instead of replacing an existing entry. A partially written file therefore never appears under a
// final name, and a crash leaves at most a temporary file that the next Open
// of the same owner (a task) removes; temporary files of other owners sharing
// the destination are left alone, as they may be content staged a moment
// ago. A name already holding the same bytes is reused rather than copied
// again, which is what keeps a re-run after a crash from producing a
// duplicate. On Linux a folder taking many files fills anonymous files
// (O_TMPFILE) created ahead by goroutines instead, and gives each its
// temporary name only once it is fsynced: creating files costs more than
// writing them on some filesystems, and this takes it off the writer's path.
//
// All access goes through an os.Root, so neither "..", an absolute name, nor a
// symlink planted in the destination can redirect a write elsewhere.
//
// Writing can also be done ahead (Stage), on as many goroutines as there
// are files, and the naming later (PutStaged), in the order that keeps
// collision suffixes stable.
//
// Suffixes cost the same for the thousandth file of a name as for the
// first: a folder remembers, per name, how far its " (n)" variants are
// taken and the heads of those it has read (suffix.go); past the last
// numbered variant, names carry the content's hash.
//
// Files may go into folders below the destination (Folder), created on
// demand and made durable by the same Sync. PutWith applies the task's
// collision policy (suffix, overwrite, skip, fail) and, with dedupe, skips
// content already present anywhere under the destination.
package sink
