package extract

import "os"

// soak reports whether the exhaustive variants of the slowest tests run,
// as `make soak` has them (MAILTASK_SOAK=1). `make test` runs a sample of
// each, chosen so that it still fails on the mistakes the test is there
// for (elide's look-ahead and first-read margins, restore's checks, a
// decoder that buffers a whole attachment), in seconds rather than
// minutes.
func soak() bool { return os.Getenv("MAILTASK_SOAK") != "" }

// sample is soak's value when soaking, else quick's.
func sample[T any](quick, soaked T) T {
	if soak() {
		return soaked
	}
	return quick
}
