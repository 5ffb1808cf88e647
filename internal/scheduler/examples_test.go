package scheduler_test

import (
	"context"
	"fmt"
	"time"

	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/scheduler"
	"mailtask/tasks/popimap"
)

// A scheduler driven by a fake clock: the task due every five minutes runs
// when the clock reaches its slot, without the example waiting for it.
func ExampleScheduler() {
	cfg, err := config.Parse("/etc/mailtask/mailtask.toml", []byte(`
[accounts.shared-inbox]
host = "outlook.office365.com"
username = "invoices@contoso.com"
password_env = "SHARED_INBOX_PASSWORD"
[[task]]
name = "invoices"
account = "shared-inbox"
destination = "/srv/drop/invoices"
schedule = "*/5 * * * *"
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	clk := clock.NewFake(time.Date(2025, 3, 1, 8, 2, 30, 0, time.UTC))
	ran := make(chan string, 1)
	stop := make(chan struct{})
	s, err := scheduler.New(cfg, scheduler.Options{
		Clock: clk,
		Stop:  stop,
		// The daemon passes popimap.Unattended(clock.Real) here.
		Run: func(_ context.Context, opts popimap.Options) (popimap.Summary, error) {
			ran <- opts.Task.Name
			return popimap.Summary{Task: opts.Task.Name}, nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error)
	go func() { done <- s.Run(context.Background()) }()

	if err := clk.WaitForTimers(1, time.Minute); err != nil {
		fmt.Println(err)
		return
	}
	clk.AdvanceToNext()
	fmt.Println(<-ran, "ran at", clk.Now().Format(time.TimeOnly))
	close(stop)
	fmt.Println("stopped:", <-done)
	// Output:
	// invoices ran at 08:05:00
	// stopped: <nil>
}
