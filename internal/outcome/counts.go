package outcome

import (
	"fmt"
	"reflect"
	"strings"
)

// Counts is what a run did. Every field is a counter, and its tags are all
// that the places showing it need: json names it in the state file and
// the log line, metric and help make it a Prometheus counter
// ("mailtask_" + metric), and say is how the summary line puts it (a
// format for the value; ",omitzero" leaves it out when zero; dry, when
// set, is said instead on a dry run).
//
// Only what a run committed counts (on a dry run, what it would have
// committed): a message written in a batch that then failed is not saved.
type Counts struct {
	Seen      int   `json:"seen" metric:"messages_seen_total" help:"New messages found on the server, those the task's rules refuse included." say:"%d new"`
	Saved     int   `json:"saved" metric:"messages_total" help:"Messages taken: their files are in the destination." say:"%d saved" dry:"%d would save"`
	Known     int   `json:"known" metric:"messages_known_total" help:"Messages the ledger shows were taken before (under another UID): nothing was written." say:"%d already taken"`
	Failed    int   `json:"failed" metric:"messages_quarantined_total" help:"Messages kept aside: unparseable, larger than max_message_size, or never delivered by the server." say:"%d failed"`
	Unmatched int   `json:"unmatched" metric:"messages_unmatched_total" help:"Messages the task's [task.match] rules refuse, recorded as done with nothing written." say:"%d not matching the rules,omitzero"`
	Held      int   `json:"held" metric:"messages_held_total" help:"Messages whose hooks failed under hook_failure = \"retry\": left on the server as they were, taken again next run." say:"%d held back by failed hooks,omitzero"`
	Files     int   `json:"files" metric:"files_total" help:"Files written into the task's destination." say:"%d files"`
	Bytes     Bytes `json:"bytes" metric:"bytes_total" help:"Bytes written into the task's destination." say:"%v"`
}

// Counter describes one field of Counts.
type Counter struct {
	Name   string // its JSON key, e.g. "saved"
	Metric string // its metric's name without the "mailtask_" prefix
	Help   string // its metric's help
	say    string
	dry    string
	omit   bool // left out of the summary line when zero
	index  int
}

// Counters lists the fields of Counts, in order.
var Counters = counters()

func counters() []Counter {
	t := reflect.TypeFor[Counts]()
	list := make([]Counter, t.NumField())
	for i := range list {
		f := t.Field(i)
		say, opt, _ := strings.Cut(f.Tag.Get("say"), ",")
		list[i] = Counter{
			Name: f.Tag.Get("json"), Metric: f.Tag.Get("metric"), Help: f.Tag.Get("help"),
			say: say, dry: f.Tag.Get("dry"), omit: opt == "omitzero", index: i,
		}
	}
	return list
}

// In returns the counter's value in c.
func (k Counter) In(c Counts) int64 {
	return reflect.ValueOf(c).Field(k.index).Int()
}

func (k Counter) add(c *Counts, n int64) {
	f := reflect.ValueOf(c).Elem().Field(k.index)
	f.SetInt(f.Int() + n)
}

// Plus adds every counter of other to c's.
func (c Counts) Plus(other Counts) Counts {
	for _, k := range Counters {
		k.add(&c, k.In(other))
	}
	return c
}

// Then is c, the counts of an attempt, followed by those of a later
// attempt of the same run: the counters add up, but for Seen. A message an
// earlier attempt committed is not new to the later one, which finds
// again those the earlier one left.
func (c Counts) Then(later Counts) Counts {
	sum := c.Plus(later)
	sum.Seen = c.Committed() + later.Seen
	return sum
}

// Committed is how many messages the run recorded as done.
func (c Counts) Committed() int {
	return c.Saved + c.Known + c.Failed + c.Unmatched
}

// Summary says the counts in words, in the order of the fields: "3 new, 3
// saved, 0 already taken, 0 failed, 3 files, 1.2 MiB". On a dry run
// (dry), what would have been done.
func (c Counts) Summary(dry bool) string {
	v := reflect.ValueOf(c)
	var parts []string
	for _, k := range Counters {
		if k.omit && k.In(c) == 0 {
			continue
		}
		format := k.say
		if dry && k.dry != "" {
			format = k.dry
		}
		parts = append(parts, fmt.Sprintf(format, v.Field(k.index).Interface()))
	}
	return strings.Join(parts, ", ")
}

// Attrs are the counts as key-value pairs for log/slog.
func (c Counts) Attrs() []any {
	attrs := make([]any, 0, 2*len(Counters))
	for _, k := range Counters {
		attrs = append(attrs, k.Name, k.In(c))
	}
	return attrs
}

// Bytes is a count of bytes, said in binary units.
type Bytes int64

func (n Bytes) String() string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
