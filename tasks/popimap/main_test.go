package popimap

import (
	"os"
	"testing"

	"mailtask/internal/testmail/mox"
	"mailtask/internal/testmail/postgres"
	"mailtask/internal/testmail/versitygw"
)

// TestMain stops the PostgreSQL and S3 servers the cluster tests share,
// and the mox the mox tests share, if they started them, showing mox's
// log if a test failed.
func TestMain(m *testing.M) {
	code := m.Run()
	if code != 0 {
		mox.ReportShared()
	}
	versitygw.StopShared()
	postgres.StopShared()
	mox.StopShared()
	os.Exit(code)
}
