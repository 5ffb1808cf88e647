package config

import (
	"testing"
	"time"
)

// ParseSchedule takes user input that robfig/cron can panic on: whatever
// the spec, it returns an error or a schedule that fires.
func FuzzParseSchedule(f *testing.F) {
	for _, seed := range []string{
		"*/5 * * * *", "0 */2 * * * *", "@every 5m", "@hourly", "CRON_TZ=Europe/Berlin 0 7 * * *",
		"CRON_TZ=UTC", "TZ=", "0 0 31 2 *", "@every -1s", "@every 0s", "60 * * * *", "* * * * * * *", "",
	} {
		f.Add(seed)
	}
	now := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		sched, err := ParseSchedule(spec)
		if err != nil {
			return
		}
		if next := sched.Next(now); !next.After(now) {
			t.Errorf("%q accepted, but its next run after %s is %s", spec, now, next)
		}
	})
}
