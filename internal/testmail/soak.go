package testmail

import "os"

// Soak reports whether the exhaustive variants of the slowest tests run,
// as `make soak` has them (MAILTASK_SOAK=1). `make test` runs a sample of
// each, chosen so that it still fails on the mistake the test is there
// for, in seconds rather than minutes.
func Soak() bool { return os.Getenv("MAILTASK_SOAK") != "" }

// Sample is soaked when soaking, else quick.
func Sample[T any](quick, soaked T) T {
	if Soak() {
		return soaked
	}
	return quick
}
