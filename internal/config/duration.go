package config

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written in the file as "90s", "5m" or "1h30m".
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler for TOML strings.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("%q is not a duration (write e.g. \"90s\", \"5m\")", text)
	}
	if v <= 0 {
		return fmt.Errorf("%q must be positive", text)
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Std returns the value as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Delay is a duration that may be "0s", for no delay at all. Unlike a
// Duration it is not refused when read: validation bounds it, naming
// the key.
type Delay time.Duration

// UnmarshalText implements encoding.TextUnmarshaler for TOML strings.
func (d *Delay) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("%q is not a duration (write e.g. \"0s\", \"90s\", \"5m\")", text)
	}
	*d = Delay(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Delay) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Std returns the value as a time.Duration.
func (d Delay) Std() time.Duration { return time.Duration(d) }
