package popimap

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// panickingHandler is a log handler that panics on a record whose
// message holds panicOn, and keeps the others: a bug that strikes on
// whatever goroutine logs it.
type panickingHandler struct {
	slog.Handler
	panicOn string
}

func newPanickingLog(buf *syncBuffer, panicOn string) *slog.Logger {
	return slog.New(panickingHandler{slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}), panicOn})
}

func (h panickingHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.panicOn) {
		var none []string
		_ = none[len(r.Message)] // a real runtime panic
	}
	return h.Handler.Handle(ctx, r)
}

func (h panickingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return panickingHandler{h.Handler.WithAttrs(attrs), h.panicOn}
}

func (h panickingHandler) WithGroup(name string) slog.Handler {
	return panickingHandler{h.Handler.WithGroup(name), h.panicOn}
}

// syncBuffer is a bytes.Buffer that goroutines may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A panic on a goroutine the run starts, a parse worker, a fetcher or one
// naming files, fails that run with a *PanicError, its stack logged,
// instead of ending the program; the task's lock is free again and the
// next run takes the messages.
func TestPanicOnARunsGoroutineFailsTheRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		// panicOn is a log message written on the goroutine to panic on.
		panicOn  string
		taskTOML []string
		more     func() (func(), bool)
	}{
		{
			name:     "parse worker",
			panicOn:  "file not selected",
			taskTOML: []string{"[task.attachments]", `include = ["*.pdf"]`},
		},
		{
			name:    "writer, naming a file",
			panicOn: "file",
		},
		{
			name:     "fetcher",
			taskTOML: []string{"batch_size = 1", "connections = 2"},
			more:     func() (func(), bool) { var none []int; return nil, none[1] == 0 },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, testmail.IMAPOptions{}, tc.taskTOML...)
			f.append(
				testmail.NewMessage("one", testmail.Attachment{Name: "a.csv", ContentType: "text/csv", Content: []byte("x\n")},
					testmail.Attachment{Name: "a.pdf", ContentType: "application/pdf", Content: pdf("one")}),
				testmail.NewMessage("two", testmail.Attachment{Name: "b.pdf", ContentType: "application/pdf", Content: pdf("two")}),
			)
			var logs syncBuffer
			panicOn := tc.panicOn
			if panicOn == "" {
				panicOn = "no message says this"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := Run(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0], Log: newPanickingLog(&logs, panicOn), MoreConnections: tc.more})
			if _, ok := errors.AsType[*PanicError](err); !ok {
				t.Fatalf("run: %v, want a *PanicError", err)
			}
			if !strings.Contains(logs.String(), "run panicked") || !strings.Contains(logs.String(), "index out of range") || !strings.Contains(logs.String(), "panics_test.go") {
				t.Errorf("the log lacks the panic or its stack:\n%s", logs.String())
			}
			// The next run, without the bug, takes what the first did not
			// commit.
			if _, err := Run(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0]}); err != nil {
				t.Fatalf("run after the panic: %v", err)
			}
			st, err := state.Load(f.cfg.StateDir, "t")
			if err != nil || st.Done.Len() != 2 {
				t.Errorf("state after both runs: %v, %v", st, err)
			}
			files := f.files()
			for _, name := range []string{"a.pdf", "b.pdf"} {
				if _, ok := files[name]; !ok {
					t.Errorf("%s missing: %v", name, sortedKeys(files))
				}
			}
		})
	}
}
