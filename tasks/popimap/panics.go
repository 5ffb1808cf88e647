package popimap

import (
	"fmt"
	"log/slog"
	"runtime/debug"
)

// PanicError is a run, or one of the goroutines it started, that
// panicked. It fails that run only: the program and its other tasks go
// on. Like Run's other errors, its text does not name the task.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("the run stopped on an internal error (a bug in mailtask; the log holds its stack, please report it): %v", e.Value)
}

// Panicked turns v, a value recover returned on the goroutine that
// panicked, into a *PanicError, logged there with its stack.
func Panicked(v any, log *slog.Logger) *PanicError {
	e := &PanicError{Value: v, Stack: debug.Stack()}
	log.Error("run panicked", "panic", fmt.Sprint(v), "stack", string(e.Stack))
	return e
}

// guarded is f with a panic on its goroutine returned as a *PanicError: a
// goroutine the run starts is beyond the recover of whoever called Run,
// and a panic there would end the whole program.
func (r *run) guarded(f func() error) func() error {
	return func() (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = Panicked(v, r.log)
			}
		}()
		return f()
	}
}
