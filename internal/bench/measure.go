package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Sample is one measured run of a child process.
type Sample struct {
	Wall   time.Duration
	MaxRSS int64 // bytes, the peak resident set size
	// CPU is the user and system time of the process and its children;
	// Busy the share of the machine's CPUs that were busy during the run,
	// whoever with (the server too): near 1, the run was CPU-bound.
	CPU  time.Duration
	Busy float64
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
	timed := exec.Command(gnuTime, append([]string{"-f", "%M %U %S", "-o", report.Name(), "--", cmd.Path}, cmd.Args[1:]...)...)
	timed.Env, timed.Dir, timed.SysProcAttr = cmd.Env, cmd.Dir, cmd.SysProcAttr
	timed.Stdin, timed.Stdout, timed.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
	var out bytes.Buffer
	if timed.Stdout == nil {
		timed.Stdout = &out
	}
	if timed.Stderr == nil {
		timed.Stderr = &out
	}
	busyBefore, _ := machineBusy()
	start := time.Now()
	err = timed.Run()
	s := Sample{Wall: time.Since(start)}
	if busyAfter, ok := machineBusy(); ok && s.Wall > 0 {
		s.Busy = (busyAfter - busyBefore).Seconds() / (s.Wall.Seconds() * float64(runtime.NumCPU()))
	}
	if err != nil {
		return s, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, tail(out.String(), 2000))
	}
	data, err := os.ReadFile(report.Name())
	if err != nil {
		return s, err
	}
	var kib int64
	var user, system float64
	if _, err := fmt.Sscan(string(data), &kib, &user, &system); err != nil {
		return s, fmt.Errorf("%s reported %q, not a peak RSS in KiB and user and system seconds", gnuTime, data)
	}
	s.MaxRSS = kib * 1024
	s.CPU = time.Duration((user + system) * float64(time.Second))
	return s, nil
}

// machineBusy is the time all CPUs have spent busy since boot, from
// /proc/stat: everything but idle and iowait.
func machineBusy() (time.Duration, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, false
	}
	var busy int64
	for i, f := range fields[1:] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, false
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	const userHZ = 100 // USER_HZ, the unit of /proc/stat on Linux
	return time.Duration(busy) * time.Second / userHZ, true
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
