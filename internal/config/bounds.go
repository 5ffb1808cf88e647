package config

import (
	"path/filepath"
	"time"
)

// Bounds of the durations and counts a file may set. They keep out values
// nobody can mean (timeout = "1ns", a run allowed years) and values that
// make mailtask itself misbehave (an unhealthy_after that takes /healthz
// minutes to work out). Each value outside them is an error naming the
// file, the section and the key, with the range.
const (
	MinTimeout        = time.Second // every timeout, the account's, the run's, a hook's, [notify]'s
	MaxAccountTimeout = time.Hour
	MaxSearchSettle   = 7 * 24 * time.Hour
	MaxRunTimeout     = 7 * 24 * time.Hour
	MaxHookTimeout    = 24 * time.Hour
	MaxNotifyTimeout  = time.Hour
	MaxJitter         = 24 * time.Hour
	MaxAge            = 100 * 365 * 24 * time.Hour
	MaxMaxMessages    = 10_000_000
	MaxUnhealthyAfter = 10_000
)

// A message must be allowed its header and then some; a message larger
// than 8 MB waits on disk in state_dir while it is processed, so the
// maximum is what a disk holds, not memory.
const (
	MinMaxMessageSize Size = 1 << 20
	MaxMaxMessageSize Size = 64 << 30
)

// failFunc reports one problem of the file: section and key name it.
type failFunc func(section, key, format string, args ...any)

// checkCount fails when n is outside lo..hi.
func checkCount(fail failFunc, section, key string, n, lo, hi int) {
	if n < lo || n > hi {
		fail(section, key, "%d is outside %d..%d", n, lo, hi)
	}
}

// checkSize fails when n is outside lo..hi, which are whole MiB.
func checkSize(fail failFunc, section, key string, n, lo, hi Size) {
	if n < lo || n > hi {
		fail(section, key, "%d is outside %d..%d (%dMiB..%dMiB)", n, lo, hi, lo>>20, hi>>20)
	}
}

// checkDuration fails when d is outside lo..hi; why, when given, is added
// to the message.
func checkDuration(fail failFunc, section, key string, d, lo, hi time.Duration, why string) {
	if d < lo || d > hi {
		msg := "%s is outside %s..%s"
		if why != "" {
			msg += " (" + why + ")"
		}
		fail(section, key, msg, d, short(lo), short(hi))
	}
}

// short writes whole hours and minutes without the zero units
// time.Duration.String adds ("168h", not "168h0m0s").
func short(d time.Duration) string {
	s := d.String()
	for _, zero := range []string{"0s", "0m"} {
		if len(s) > len(zero)+1 && s[len(s)-len(zero):] == zero && s[len(s)-len(zero)-1] > '9' {
			s = s[:len(s)-len(zero)]
		}
	}
	return s
}

// isFilesystemRoot reports whether dir is "/" (or a drive's root): a
// destination or state_dir there would scatter mailtask's files over the
// whole system.
func isFilesystemRoot(dir string) bool {
	return dir != "" && filepath.Dir(dir) == dir
}
