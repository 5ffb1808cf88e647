// Package hook runs the programs a task hands its files to
// (run_after_file, run_after_message): the "next task item" of a CrushFTP
// job.
//
// A hook is an argv list run directly, never through a shell, so nothing a
// sender controls (a subject, a file name) can become shell syntax. What
// it needs to know comes in MAILTASK_* environment variables, none longer
// than MaxValue: a longer one is cut and passed whole in a file. Each run is
// bounded by a timeout; on expiry the hook's whole process group is
// killed, so a hook that started children cannot leave them running, and
// on Linux so are the children that left the group (setsid, a double
// fork), found in /proc by their parents and by the marker MAILTASK_HOOK
// in their environment.
// Secrets of the configuration (the variables password_env names) are
// removed from the environment the hook inherits.
package hook
