package testmail

import "mailtask/internal/demo"

// CA is the throwaway certificate authority of the demo, which the test
// servers and Dovecot present certificates of too.
type CA = demo.CA

// NewCA creates a CA and a server certificate for loopback and
// MicrosoftHosts (which tests reach on loopback, see WithMicrosoftHosts),
// valid for one day.
func NewCA() (*CA, error) { return demo.NewCA(MicrosoftHosts...) }
