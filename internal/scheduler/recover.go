package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"mailtask/tasks/popimap"
)

// PanicError is a run that panicked. It fails that run only: the daemon
// and its other tasks go on, and the task stays scheduled. Like the errors
// of popimap.Run, its text does not name the task: whoever reports it
// does, once.
type PanicError struct {
	Task  string
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("the run stopped on an internal error (a bug in mailtask; the log holds its stack, please report it): %v", e.Value)
}

// Recover returns run with a panic on its goroutine turned into a
// *PanicError, logged with its stack. The run's own deferred cleanup (its
// lock, its connections) has happened by then, so the task can run again.
// A panic on a goroutine the run started itself is beyond any recover.
func Recover(run popimap.RunFunc) popimap.RunFunc {
	return func(ctx context.Context, opts popimap.Options) (sum popimap.Summary, err error) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			perr := &PanicError{Task: opts.Task.Name, Value: v, Stack: debug.Stack()}
			log := opts.Log
			if log == nil {
				log = slog.New(slog.DiscardHandler)
			}
			log.Error("run panicked", "task", perr.Task, "panic", fmt.Sprint(v), "stack", string(perr.Stack))
			sum.Task, err = opts.Task.Name, perr
		}()
		return run(ctx, opts)
	}
}
