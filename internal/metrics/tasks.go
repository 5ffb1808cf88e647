package metrics

import (
	"bufio"
	"slices"
	"strconv"
	"strings"
	"sync"

	"mailtask/internal/outcome"
)

// The per-task series live in a table of plain numbers, not in
// client_golang's vectors, and a scrape writes them as text straight from
// the table. A daemon of cluster mode carries every task of the
// configuration: at 10,000 tasks (18 series each) a scrape through the
// registry cost about 0.9 s of CPU and allocated about 90 MB, most of it
// building, checking and sorting a message per series that the table
// keeps unique and in order by construction.

// taskFigures are one task's figures.
type taskFigures struct {
	runs, failures float64
	counts         []float64 // by outcome.Counters
	skipped        [2]float64
	defects        map[string]float64 // by kind
	automatic      map[string]float64 // by kind
	notices        float64            // quarantine notices met
	lastRun        optional
	lastSuccess    optional
	duration       optional
	nextRun        optional
	due            [2]optional
}

// optional is a gauge's value, and whether it has been set: a gauge such
// as a task's last run has no series before the task ran.
type optional struct {
	v   float64
	set bool
}

func (o *optional) put(v float64) { *o = optional{v: v, set: true} }

// skipReasons and dueActions are the values of the second label of
// runs_skipped_total and actions_due, in the order the figures keep them
// (skipped, due).
var (
	skipReasons = []string{SkipLocked, SkipOverlap}
	dueActions  = []string{ActionAfter, ActionFailure}
)

// taskTable holds the figures of every task the daemon tracks.
type taskTable struct {
	mu      sync.Mutex
	figures map[string]*taskFigures
	order   []string // the tasks, sorted; nil when the set of tasks changed
}

func newTaskTable() *taskTable { return &taskTable{figures: map[string]*taskFigures{}} }

// update applies change to task's figures, which it makes if need be.
func (t *taskTable) update(task string, change func(*taskFigures)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.figures[task]
	if f == nil {
		f = &taskFigures{counts: make([]float64, len(outcome.Counters))}
		t.figures[task] = f
		t.order = nil
	}
	change(f)
}

func (t *taskTable) forget(task string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.figures[task]; ok {
		delete(t.figures, task)
		t.order = nil
	}
}

// A taskFamily is one metric of the table: a series per task, or per task
// and value of a second label.
type taskFamily struct {
	name, help, kind string
	label            string                      // the second label, or ""
	values           func(t *taskTable) []string // its values; nil without one
	value            func(f *taskFigures, label string) (float64, bool)
}

// taskFamilies are the table's metrics, sorted by name.
var taskFamilies = func() []taskFamily {
	counter := func(name, help string, v func(f *taskFigures) float64) taskFamily {
		return taskFamily{name: name, help: help, kind: "counter",
			value: func(f *taskFigures, _ string) (float64, bool) { return v(f), true }}
	}
	gauge := func(name, help string, v func(f *taskFigures) optional) taskFamily {
		return taskFamily{name: name, help: help, kind: "gauge",
			value: func(f *taskFigures, _ string) (float64, bool) { o := v(f); return o.v, o.set }}
	}
	fixed := func(list []string) func(*taskTable) []string { return func(*taskTable) []string { return list } }
	families := []taskFamily{
		counter("runs_total", "Runs of a task that ended (successful, stopped or failed).", func(f *taskFigures) float64 { return f.runs }),
		counter("run_failures_total", "Runs of a task that failed, after their retries.", func(f *taskFigures) float64 { return f.failures }),
		{name: "runs_skipped_total", help: "Scheduled runs of a task not started: its previous run was still going (overlap) or another process held its lock (locked).",
			kind: "counter", label: "reason", values: fixed(skipReasons),
			value: func(f *taskFigures, reason string) (float64, bool) {
				return f.skipped[slices.Index(skipReasons, reason)], true
			}},
		{name: "file_defects_total", help: "Defects of the files written (damaged base64, an unknown transfer encoding, ...), by kind: such a file holds what could be recovered.",
			kind: "counter", label: "defect", values: kinds(func(f *taskFigures) map[string]float64 { return f.defects }),
			value: func(f *taskFigures, kind string) (float64, bool) { v, ok := f.defects[kind]; return v, ok }},
		{name: "messages_automatic_total", help: "Messages not taken because they are automatic mail the task skips (skip_automatic), by kind: delivery-report, auto-reply, read-receipt. messages_unmatched_total counts them too.",
			kind: "counter", label: "kind", values: kinds(func(f *taskFigures) map[string]float64 { return f.automatic }),
			value: func(f *taskFigures, kind string) (float64, bool) { v, ok := f.automatic[kind]; return v, ok }},
		counter("quarantine_notices_total", "Microsoft 365 quarantine notices a task met: mail held for its mailbox that it will never see until someone releases it. Each is logged at WARN.", func(f *taskFigures) float64 { return f.notices }),
		gauge("last_run_timestamp_seconds", "When the task's last run ended, in Unix time.", func(f *taskFigures) optional { return f.lastRun }),
		gauge("last_success_timestamp_seconds", "When the task's last successful run ended, in Unix time.", func(f *taskFigures) optional { return f.lastSuccess }),
		gauge("last_run_duration_seconds", "How long the task's last run took.", func(f *taskFigures) optional { return f.duration }),
		gauge("next_run_timestamp_seconds", "When the task runs next, jitter included, in Unix time.", func(f *taskFigures) optional { return f.nextRun }),
		{name: "actions_due", help: "Messages taken whose after-action (after) or failure action (after_failure) the server has not confirmed yet, refused ones included: every run retries them.",
			kind: "gauge", label: "action", values: fixed(dueActions),
			value: func(f *taskFigures, action string) (float64, bool) {
				o := f.due[slices.Index(dueActions, action)]
				return o.v, o.set
			}},
	}
	for i, k := range outcome.Counters {
		families = append(families, counter(k.Metric, k.Help, func(f *taskFigures) float64 { return f.counts[i] }))
	}
	for i := range families {
		families[i].name = "mailtask_" + families[i].name
	}
	slices.SortFunc(families, func(a, b taskFamily) int { return strings.Compare(a.name, b.name) })
	return families
}()

// kinds returns, for figures by kind, the kinds any task counted, sorted.
func kinds(figures func(*taskFigures) map[string]float64) func(*taskTable) []string {
	return func(t *taskTable) []string {
		var kinds []string
		for _, f := range t.figures {
			for kind := range figures(f) {
				if !slices.Contains(kinds, kind) {
					kinds = append(kinds, kind)
				}
			}
		}
		slices.Sort(kinds)
		return kinds
	}
}

// writeText writes every series of the table in Prometheus's text format,
// family by family, a family's series sorted by their labels' values, the
// second label's (which sorts before "task") first. A family without a
// series is left out, as the registry leaves it out.
func (t *taskTable) writeText(w *bufio.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.order == nil {
		t.order = make([]string, 0, len(t.figures))
		for task := range t.figures {
			t.order = append(t.order, task)
		}
		slices.Sort(t.order)
	}
	var line []byte
	for i := range taskFamilies {
		fam := &taskFamilies[i]
		labels := []string{""}
		if fam.values != nil {
			labels = fam.values(t)
		}
		header := false
		for _, label := range labels {
			for _, task := range t.order {
				v, ok := fam.value(t.figures[task], label)
				if !ok {
					continue
				}
				if !header {
					writeHeader(w, fam)
					header = true
				}
				line = append(line[:0], fam.name...)
				line = append(line, '{')
				if fam.label != "" {
					line = appendLabel(line, fam.label, label)
					line = append(line, ',')
				}
				line = appendLabel(line, "task", task)
				line = append(line, "} "...)
				line = strconv.AppendFloat(line, v, 'g', -1, 64) // as the registry's encoder writes it
				line = append(line, '\n')
				w.Write(line)
			}
		}
	}
}

func writeHeader(w *bufio.Writer, fam *taskFamily) {
	w.WriteString("# HELP ")
	w.WriteString(fam.name)
	w.WriteByte(' ')
	w.WriteString(helpEscaper.Replace(fam.help))
	w.WriteString("\n# TYPE ")
	w.WriteString(fam.name)
	w.WriteByte(' ')
	w.WriteString(fam.kind)
	w.WriteByte('\n')
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, `="`...)
	if strings.ContainsAny(value, "\\\n\"") {
		value = valueEscaper.Replace(value)
	}
	b = append(b, value...)
	return append(b, '"')
}
