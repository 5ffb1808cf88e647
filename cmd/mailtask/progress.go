package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"mailtask/internal/outcome"
	"mailtask/tasks/popimap"
)

// progressBar shows "messages done of total, bytes" on a terminal, and
// nothing at all when output goes to a file, a pipe or a log collector.
type progressBar struct {
	w     io.Writer // nil when not a terminal
	task  string
	last  time.Time
	shown bool
}

func newProgressBar(w io.Writer, task string) *progressBar {
	f, ok := w.(*os.File)
	if !ok {
		return &progressBar{}
	}
	info, err := f.Stat()
	if err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return &progressBar{}
	}
	return &progressBar{w: w, task: task}
}

func (p *progressBar) update(pr popimap.Progress) {
	if p.w == nil || pr.Total == 0 {
		return
	}
	// Redrawing for every small message would cost more than the message.
	if time.Since(p.last) < 100*time.Millisecond && pr.Done != pr.Total {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "\r\033[K%s: %d/%d messages, %s", p.task, pr.Done, pr.Total, outcome.Bytes(pr.Bytes))
	p.shown = true
}

func (p *progressBar) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
