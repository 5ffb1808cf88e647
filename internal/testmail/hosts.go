package testmail

import (
	"os"
	"strings"
)

// MicrosoftHosts are names of Microsoft's mail servers that tests reach on
// loopback, in a namespace of their own (WithMicrosoftHosts), so that what
// mailtask says only to Microsoft's customers can be tested end to end.
// The test CA's server certificate is valid for them.
var MicrosoftHosts = []string{"outlook.office365.com", "smtp.office365.com"}

// envHosts carries the hosts file a child started by WithMicrosoftHosts
// puts over /etc/hosts.
const envHosts = "MAILTASK_TEST_HOSTS"

// MicrosoftHostsHere reports whether MicrosoftHosts resolve to 127.0.0.1 in
// this process: it is a child started by WithMicrosoftHosts.
func MicrosoftHostsHere() bool { return os.Getenv(envHosts) != "" }

// hostsFile is /etc/hosts for the child: loopback and MicrosoftHosts on
// 127.0.0.1.
func hostsFile() string {
	return "127.0.0.1 localhost " + strings.Join(MicrosoftHosts, " ") + "\n::1 localhost ip6-localhost ip6-loopback\n"
}
