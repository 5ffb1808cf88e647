package scheduler

import (
	"os"
	"testing"

	"mailtask/internal/testmail/postgres"
)

// TestMain stops the PostgreSQL server the cluster tests share, if they
// started it.
func TestMain(m *testing.M) {
	code := m.Run()
	postgres.StopShared()
	os.Exit(code)
}
