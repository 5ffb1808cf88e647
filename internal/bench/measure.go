package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Sample is one measured run of a child process.
type Sample struct {
	Wall   time.Duration
	MaxRSS int64 // bytes, the peak resident set size
}

// gnuTime is GNU time (Debian package "time"), which runs the measured
// command and reports its peak RSS.
const gnuTime = "/usr/bin/time"

// Measure runs cmd to completion and returns its wall time, from start to
// exit, and its peak RSS. Output the command does not redirect itself is
// captured and returned in the error when it fails.
//
// The command runs under GNU time, which forks it from a process of about
// a megabyte and reports what wait4 says. A child this process forked
// itself would report at least this process's own peak RSS: Linux carries
// the high-water mark across exec.
func Measure(cmd *exec.Cmd) (Sample, error) {
	if _, err := os.Stat(gnuTime); err != nil {
		return Sample{}, fmt.Errorf("measuring peak RSS needs %s: apt-get install time", gnuTime)
	}
	report, err := os.CreateTemp("", "mailtask-bench-rss-")
	if err != nil {
		return Sample{}, err
	}
	report.Close()
	defer os.Remove(report.Name())
	// The command may run as another user (see asNobody); time, as that
	// user, writes the report.
	if err := os.Chmod(report.Name(), 0o666); err != nil {
		return Sample{}, err
	}
	timed := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", report.Name(), "--", cmd.Path}, cmd.Args[1:]...)...)
	timed.Env, timed.Dir, timed.SysProcAttr = cmd.Env, cmd.Dir, cmd.SysProcAttr
	timed.Stdin, timed.Stdout, timed.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
	var out bytes.Buffer
	if timed.Stdout == nil {
		timed.Stdout = &out
	}
	if timed.Stderr == nil {
		timed.Stderr = &out
	}
	start := time.Now()
	err = timed.Run()
	s := Sample{Wall: time.Since(start)}
	if err != nil {
		return s, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, tail(out.String(), 2000))
	}
	data, err := os.ReadFile(report.Name())
	if err != nil {
		return s, err
	}
	kib, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return s, fmt.Errorf("%s reported %q, not a peak RSS in KiB", gnuTime, data)
	}
	s.MaxRSS = kib * 1024
	return s, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
