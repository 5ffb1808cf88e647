package diagnose_test

import (
	"fmt"
	"os"
	"testing"

	"mailtask/internal/testmail"
)

func TestMain(m *testing.M) {
	if err := testmail.EnterHostsNamespace(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(125)
	}
	os.Exit(m.Run())
}
