//go:build !race

package objsink

// raceDetector is whether the tests run under -race, where sync.Pool
// drops what it is given at random.
const raceDetector = false
