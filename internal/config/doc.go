// Package config loads mailtask's TOML configuration: accounts (where and how to
// log in) and tasks (what to take from which mailbox and where to put it).
//
// Loading is strict. Unknown keys, missing required keys, references to
// undefined accounts and paths that cannot be resolved are all errors that
// name the file, the task or account, and the key, so an operator can fix the
// file without reading code. Relative paths are resolved against the
// directory holding the config file, never the process's working directory,
// so a config behaves the same from cron, systemd and a shell.
//
// The main file may include others (include = ["conf.d/*.toml"]): each
// holds accounts and tasks only, one file per mailbox being the way to keep
// thousands of them. Accounts and tasks are shared across files, an error
// names the file that holds it, and a relative path in an included file is
// relative to that file's directory. Includes do not nest (include.go).
//
// Secrets are referenced, not copied: an account names a password directly,
// an environment variable (password_env) or a file (password_file), and the
// value is read only when a connection needs it. Secret values never appear
// in errors.
package config
