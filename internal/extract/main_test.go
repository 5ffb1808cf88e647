package extract

import (
	"os"
	"testing"
)

// TestMain removes what the tests share across the package: the S/MIME
// signer's key and certificate (smime_test.go), made once for all.
func TestMain(m *testing.M) {
	code := m.Run()
	if signer.dir != "" {
		os.RemoveAll(signer.dir)
	}
	os.Exit(code)
}
