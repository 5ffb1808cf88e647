//go:build unix

package postgres

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"mailtask/internal/testmail/child"
)

// initdbSettings are initdb's arguments after the data directory: trust
// authentication (loopback and socket only), UTF-8 in the C locale,
// nothing fsynced.
var initdbSettings = []string{"-U", Superuser, "--auth=trust",
	"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"}

// template returns a data directory made by initdb that a new cluster
// starts as a copy of, making it the first time: initdb costs about a
// CPU-second, a copy a quarter of that, and make test starts a dozen
// clusters in as many test binaries at once. It lives in the temporary
// directory, named for what it depends on (see templateKey), so an
// upgraded PostgreSQL or changed settings get a new one; a lock file
// makes the processes that start clusters at the same time wait for one
// initdb.
func (inst install) template() (string, error) {
	key, err := inst.templateKey()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(os.TempDir(), "mailtask-pg-template-"+key)
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("postgres: template lock: %w", err)
	}
	defer lock.Close() // releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("postgres: template lock %s: %w", lock.Name(), err)
	}
	switch fi, err := os.Lstat(dir); {
	case err == nil:
		// Anyone may write to the temporary directory: use only a
		// directory that the cluster's own user made.
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !fi.IsDir() || !ok || st.Uid != inst.uid() {
			return "", fmt.Errorf("postgres: template %s is not a directory of uid %d: remove it", dir, inst.uid())
		}
		// A cleaner of old files in the temporary directory
		// (systemd-tmpfiles) may have emptied it.
		if _, err := os.Stat(filepath.Join(dir, "global", "pg_control")); err == nil {
			return dir, nil
		}
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("postgres: template: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("postgres: template: %w", err)
	}
	// initdb beside it, renamed into place once complete, so that a
	// process killed during initdb leaves no half template.
	work, err := os.MkdirTemp("", "mailtask-pg-initdb-")
	if err != nil {
		return "", fmt.Errorf("postgres: template: %w", err)
	}
	defer os.RemoveAll(work)
	if inst.cred != nil {
		if err := os.Chown(work, int(inst.cred.Uid), int(inst.cred.Gid)); err != nil {
			return "", fmt.Errorf("postgres: template: %w", err)
		}
	}
	data := filepath.Join(work, "data")
	cmd := inst.command(work, filepath.Join(inst.bin, "initdb"), append([]string{"-D", data}, initdbSettings...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("postgres: initdb: %w\n%s", err, out)
	}
	if err := os.Rename(data, dir); err != nil {
		return "", fmt.Errorf("postgres: template: %w", err)
	}
	return dir, nil
}

// templateKey names what a template depends on: the binaries (directory,
// size and modification time of initdb and postgres), the user who runs
// them and initdb's settings.
func (inst install) templateKey() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s\x00", inst.bin, os.Geteuid(), inst.uid(), strings.Join(initdbSettings, "\x00"))
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(inst.bin, name))
		if err != nil {
			return "", fmt.Errorf("postgres: %w", err)
		}
		fmt.Fprintf(h, "%d\x00%d\x00", fi.Size(), fi.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// copyTemplate copies the template to data, as the cluster's user, with
// its permissions (PostgreSQL refuses a data directory others may read).
func (inst install) copyTemplate(dir, data string) error {
	tmpl, err := inst.template()
	if err != nil {
		return err
	}
	if out, err := inst.command(dir, "cp", "-R", "-p", tmpl, data).CombinedOutput(); err != nil {
		return fmt.Errorf("postgres: copy the template %s: %w\n%s", tmpl, err, out)
	}
	return nil
}

// uid is the user the cluster runs as.
func (inst install) uid() uint32 {
	if inst.cred != nil {
		return inst.cred.Uid
	}
	return uint32(os.Geteuid())
}

// command is a program run in dir as the user that owns the cluster; a
// postmaster gets SIGQUIT (immediate shutdown) if the test binary dies.
func (inst install) command(dir, path string, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = child.Attr(inst.cred, syscall.SIGQUIT)
	return cmd
}
