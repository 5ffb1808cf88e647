package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"

	"mailtask/internal/version"
)

func versionFlags(*flag.FlagSet) runFunc {
	return func(_ context.Context, e *env, _ []string) error {
		fmt.Fprintf(e.stdout, "mailtask %s (%s %s/%s)\n", version.String(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	}
}
