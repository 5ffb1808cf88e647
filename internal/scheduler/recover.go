package scheduler

import (
	"context"
	"log/slog"

	"mailtask/tasks/popimap"
)

// Recover returns run with a panic on its goroutine turned into a
// *popimap.PanicError, logged with its stack: it fails that run only, the
// daemon and its other tasks go on, and the task stays scheduled. The
// run's own deferred cleanup (its lock, its connections) has happened by
// then, so the task can run again. The goroutines a run starts recover
// their own panics (popimap.Panicked).
func Recover(run popimap.RunFunc) popimap.RunFunc {
	return func(ctx context.Context, opts popimap.Options) (sum popimap.Summary, err error) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			log := opts.Log
			if log == nil {
				log = slog.New(slog.DiscardHandler)
			}
			sum.Task, err = opts.Task.Name, popimap.Panicked(v, log.With("task", opts.Task.Name))
		}()
		return run(ctx, opts)
	}
}
