package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Size is a number of bytes, written as an integer or with a unit:
// "500", "200KB", "10MB", "1GiB" (KB, MB and GB are powers of 1000, KiB,
// MiB and GiB of 1024).
type Size int64

// UnmarshalTOML accepts an integer or a string with a unit.
func (s *Size) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("%d is negative", v)
		}
		*s = Size(v)
		return nil
	case string:
		n, err := parseSize(v)
		if err != nil {
			return err
		}
		*s = n
		return nil
	}
	return fmt.Errorf("%s is not a size (write e.g. 500000 or \"10MB\")", show(v))
}

var sizeUnits = []struct {
	suffix string
	factor int64
}{
	// Longest suffixes first, so "KiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9},
	{"k", 1e3}, {"m", 1e6}, {"g", 1e9},
	{"b", 1},
}

func parseSize(text string) (Size, error) {
	t := strings.ToLower(strings.TrimSpace(text))
	factor := int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, factor = strings.TrimSpace(rest), u.factor
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || n*float64(factor) > 1<<62 {
		return 0, fmt.Errorf("%q is not a size (write e.g. \"500KB\", \"10MB\", \"1GiB\")", text)
	}
	return Size(n * float64(factor)), nil
}

func (s Size) String() string { return strconv.FormatInt(int64(s), 10) + " bytes" }

// Age is a positive duration that may also be written in days or weeks:
// "30d", "2w", "36h", "90m".
type Age time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Age) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	var d time.Duration
	var err error
	switch {
	case strings.HasSuffix(s, "d"), strings.HasSuffix(s, "w"):
		unit := 24 * time.Hour
		if strings.HasSuffix(s, "w") {
			unit *= 7
		}
		var n int
		n, err = strconv.Atoi(s[:len(s)-1])
		d = time.Duration(n) * unit
	default:
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive age (write e.g. \"30d\", \"2w\", \"36h\")", text)
	}
	*a = Age(d)
	return nil
}

// Std returns the value as a time.Duration.
func (a Age) Std() time.Duration { return time.Duration(a) }

// Date is a point in time written as a date ("2025-01-31", or a TOML date
// without quotes), which means midnight in the task's time zone, or as a
// full RFC 3339 timestamp ("2025-01-31T08:00:00+01:00").
type Date struct {
	t     time.Time
	local bool // a date or local date-time: its zone is the task's
}

// UnmarshalTOML accepts a string or a TOML date or date-time.
func (d *Date) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case time.Time:
		// BurntSushi/toml marks values written without an offset with
		// these zone names.
		switch v.Location().String() {
		case "date-local", "datetime-local":
			d.t, d.local = time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), time.UTC), true
		default:
			d.t, d.local = v, false
		}
		return nil
	case string:
		if t, err := time.Parse(time.DateOnly, v); err == nil {
			d.t, d.local = t, true
			return nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			d.t, d.local = t, false
			return nil
		}
	}
	return fmt.Errorf("%s is not a date (write e.g. 2025-01-31 or \"2025-01-31T08:00:00+01:00\")", show(v))
}

// IsZero reports whether no date was given.
func (d Date) IsZero() bool { return d.t.IsZero() }

// In returns the point in time, reading a date without a zone in loc.
func (d Date) In(loc *time.Location) time.Time {
	if d.t.IsZero() || !d.local {
		return d.t
	}
	t := d.t
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
}

// show writes a value of the file as the file would: strings quoted.
func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}
