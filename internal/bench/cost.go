package bench

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnableStatements turns on pg_stat_statements in the database at url
// (a superuser's): the server must have been started with it in
// shared_preload_libraries, which PreloadStatements asks for.
func EnableStatements(ctx context.Context, url string) error {
	return execOnce(ctx, url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
}

// PreloadStatements asks the server at url (a superuser's) to load
// pg_stat_statements when it next starts.
func PreloadStatements(ctx context.Context, url string) error {
	return execOnce(ctx, url, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
}

// execOnce runs statement on a connection of its own to url.
func execOnce(ctx context.Context, url, statement string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, statement)
	return err
}

// Statements is what pg_stat_statements counted per statement in one
// database, by its normalised text.
type Statements map[string]Statement

// Statement is how often a statement ran and how long the server took,
// in all.
type Statement struct {
	Calls int64
	Time  time.Duration // planning and execution
}

// ReadStatements reads the calls of every statement the database at url
// has run, its own reading excepted.
func ReadStatements(ctx context.Context, url string) (Statements, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT query, sum(calls)::bigint, sum(total_plan_time + total_exec_time)::float8 FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE '%pg_stat_database%'
		GROUP BY query`)
	if err != nil {
		return nil, err
	}
	s := Statements{}
	var (
		q  string
		n  int64
		ms float64
	)
	_, err = pgx.ForEachRow(rows, []any{&q, &n, &ms}, func() error {
		q = strings.Join(strings.Fields(q), " ")
		st := s[q]
		st.Calls += n
		st.Time += time.Duration(ms * float64(time.Millisecond))
		s[q] = st
		return nil
	})
	return s, err
}

// Since is the calls made between before and s.
func (s Statements) Since(before Statements) Statements {
	d := Statements{}
	for q, st := range s {
		st.Calls -= before[q].Calls
		st.Time -= before[q].Time
		if st.Calls > 0 {
			d[q] = st
		}
	}
	return d
}

// Total is the calls of every statement, and the server's time on them.
func (s Statements) Total() Statement {
	var t Statement
	for _, st := range s {
		t.Calls += st.Calls
		t.Time += st.Time
	}
	return t
}

// Table prints the statements, most called first, with their calls and
// the server's milliseconds on them per unit (a run, a poll), their text
// cut to width.
func (s Statements) Table(per float64, unit string, width int) string {
	type row struct {
		q string
		Statement
	}
	var rows []row
	for q, st := range s {
		rows = append(rows, row{q, st})
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Or(cmp.Compare(b.Calls, a.Calls), strings.Compare(a.q, b.q)) })
	var b bytes.Buffer
	fmt.Fprintf(&b, "| statement | calls | per %[1]s | server ms per %[1]s |\n|---|--:|--:|--:|\n", unit)
	for _, r := range rows {
		q := r.q
		if len(q) > width {
			q = q[:width] + "…"
		}
		fmt.Fprintf(&b, "| `%s` | %d | %.2f | %.3f |\n", strings.ReplaceAll(q, "|", `\|`), r.Calls, float64(r.Calls)/per, r.Time.Seconds()*1000/per)
	}
	return b.String()
}

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// ProcessCPU returns the CPU time, user and system, that process pid has
// used, and with children its children's that have exited and been
// waited for.
func ProcessCPU(pid int, children bool) (time.Duration, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	// Fields after the command: state is [0]; utime, stime, cutime,
	// cstime are [11] to [14].
	last := 12
	if children {
		last = 14
	}
	var ticks int64
	for _, s := range f[11 : last+1] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// TreeCPU returns the CPU time of the server whose main process is pid:
// its own, that of its children that have exited, and that of those still
// running (a PostgreSQL's backends).
func TreeCPU(pid int) (time.Duration, error) {
	total, err := ProcessCPU(pid, true)
	if err != nil {
		return 0, err
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		child, _ := strconv.Atoi(filepath.Base(d))
		f, err := procStat(child)
		if err != nil || f[1] != strconv.Itoa(pid) {
			continue // gone, or not a child of pid
		}
		if cpu, err := ProcessCPU(child, true); err == nil {
			total += cpu
		}
	}
	return total, nil
}

// procStat returns the fields of /proc/pid/stat after the command name.
func procStat(pid int) ([]string, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

// PostmasterPID returns the PID of the PostgreSQL server whose data
// directory is dataDir, from its postmaster.pid.
func PostmasterPID(dataDir string) (int, error) {
	raw, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}
