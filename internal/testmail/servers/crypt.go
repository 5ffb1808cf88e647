package servers

import (
	"errors"
	"os/exec"
	"strings"
)

// CryptSHA512 returns the crypt(3) SHA-512 hash of pass, as password files
// want it, from openssl, which Debian machines have. The salt is fixed:
// these are test passwords.
func CryptSHA512(pass string) (string, error) {
	out, err := exec.Command("openssl", "passwd", "-6", "-salt", "mailtasktest", pass).Output()
	if err != nil {
		return "", errors.New("servers: the harness hashes passwords with openssl passwd -6, which failed: " + err.Error())
	}
	return strings.TrimSpace(string(out)), nil
}
