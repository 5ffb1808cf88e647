package config

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// scheduleParser accepts five fields, an optional leading seconds field,
// descriptors such as "@every 5m" and "@hourly", and a CRON_TZ= prefix.
var scheduleParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a task's schedule. It refuses specs that can never
// fire (such as "0 0 31 2 *"), which robfig/cron would accept and then
// silently never run.
func ParseSchedule(spec string) (sched cron.Schedule, err error) {
	// robfig/cron panics on some malformed input (e.g. "CRON_TZ=UTC" alone).
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("%q is not a valid schedule", spec)
		}
	}()
	sched, err = scheduleParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%q is not a valid schedule: %v (write 5 cron fields such as \"*/5 * * * *\", or \"@every 5m\")", spec, err)
	}
	if sched.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("%q never fires (no date matches it)", spec)
	}
	return sched, nil
}
