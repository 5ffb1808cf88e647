//go:build !linux

package testmail

import "testing"

// EnterHostsNamespace does nothing outside Linux.
func EnterHostsNamespace() error { return nil }

// WithMicrosoftHosts skips t: only Linux has the namespaces it needs.
func WithMicrosoftHosts(t *testing.T) {
	t.Helper()
	t.Skip("needs Linux user and mount namespaces")
}
