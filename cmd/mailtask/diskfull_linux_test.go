package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// destinationFixture is a Dovecot mailbox of messages whose attachments
// are small except the fifth's, and the files a clean run writes.
type destinationFixture struct {
	d    *dovecot.Server
	user string
	want map[string]string
}

const (
	destMessages = 8
	destBatch    = 3
	smallFile    = 10_000
	bigFile      = 100_000 // over fsizeLimit
	fsizeLimit   = 50_000
)

func newDestinationFixture(t *testing.T, user string) *destinationFixture {
	t.Helper()
	d := dovecot.Start(t, dovecot.Options{Users: map[string]string{user: "pw-" + user}})
	var raws [][]byte
	for i := range destMessages {
		size := smallFile
		if i == 4 {
			size = bigFile
		}
		content := bytes.Repeat([]byte(fmt.Sprintf("message %d ", i)), size/10)
		raws = append(raws, testmail.NewMessage(fmt.Sprintf("m%d", i), testmail.Attachment{Name: fmt.Sprintf("file-%d.bin", i), Content: content}))
	}
	d.Seed(t, user, "INBOX", raws...)
	clean := newTaskDir(t, d, "imap", user, "pw-"+user)
	if out, err := mailtaskCmd("run-task", "--config", clean.config, "t").CombinedOutput(); err != nil {
		t.Fatalf("clean run: %v\n%s", err, out)
	}
	return &destinationFixture{d: d, user: user, want: clean.files(t)}
}

// run runs mailtask run-task and returns its exit code and stderr.
func runChild(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

func committed(t *testing.T, td taskDir) state.UIDSet {
	t.Helper()
	st, err := state.Load(td.state, "t")
	if err != nil {
		t.Fatal(err)
	}
	return st.Done
}

// TestDiskFull runs mailtask with a file-size limit (RLIMIT_FSIZE) that
// the fifth message's attachment exceeds, as a full disk refuses it: the
// run fails naming the file and the destination, the batch holding that
// message is not committed, nothing half-written is visible, and the next
// run, with room again, completes with exactly the clean result.
func TestDiskFull(t *testing.T) {
	t.Parallel() // servers, child processes and directories of its own; it mostly waits on them
	fx := newDestinationFixture(t, "full")
	td := newTaskDir(t, fx.d, "imap", fx.user, "pw-"+fx.user, "batch_size = "+strconv.Itoa(destBatch))
	cmd := mailtaskCmd("run-task", "--config", td.config, "t")
	cmd.Env = append(cmd.Env, envFSize+"="+strconv.Itoa(fsizeLimit))
	code, stderr := runChild(t, cmd)
	if code != exitFailed {
		t.Fatalf("exit %d with a full disk, want %d\n%s", code, exitFailed, stderr)
	}
	t.Logf("with a full disk: %s", strings.TrimSpace(stderr))
	for _, want := range []string{`"file-4.bin"`, td.dest, "file too large"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the error does not name %s:\n%s", want, stderr)
		}
	}
	// The fifth message (UID 5) is not committed; what is committed has
	// its file in place. Today that is batch 1, UIDs 1-3.
	done := committed(t, td)
	if done.Contains(5) {
		t.Errorf("the message whose file did not fit is committed (UIDs %s)", done.String())
	}
	files := td.files(t)
	for uid := range done.All() {
		if name := fmt.Sprintf("file-%d.bin", uid-1); files[name] != fx.want[name] {
			t.Errorf("UID %d is committed without its file %s", uid, name)
		}
	}
	for name, sum := range files {
		if fx.want[name] != sum {
			t.Errorf("after the failure: %s is not a whole file of the clean run", name)
		}
	}

	if code, stderr := runChild(t, mailtaskCmd("run-task", "--config", td.config, "t")); code != exitOK {
		t.Fatalf("run with room again: exit %d\n%s", code, stderr)
	}
	sameFiles(t, "after the disk had room again", td.files(t), fx.want)
	if done := committed(t, td); done.Len() != destMessages || done.FirstMissing() != destMessages+1 {
		t.Errorf("committed UIDs %s, want all", done.String())
	}
}

// TestDestinationPermissionDenied runs mailtask against a destination it
// may not write to: the run fails naming the destination, commits
// nothing, and once the permission is granted the next run completes with
// exactly the clean result. As root, which ignores permissions, mailtask
// runs as the user nobody.
func TestDestinationPermissionDenied(t *testing.T) {
	t.Parallel() // servers, child processes and directories of its own; it mostly waits on them
	fx := newDestinationFixture(t, "denied")
	td := newTaskDir(t, fx.d, "imap", fx.user, "pw-"+fx.user, "batch_size = "+strconv.Itoa(destBatch))
	for _, dir := range []string{td.dest, td.state} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	asUser, grant := unprivileged(t, td)
	if os.Geteuid() != 0 {
		if err := os.Chmod(td.dest, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	code, stderr := runChild(t, asUser())
	if code != exitFailed {
		t.Fatalf("exit %d with a read-only destination, want %d\n%s", code, exitFailed, stderr)
	}
	t.Logf("with a read-only destination: %s", strings.TrimSpace(stderr))
	for _, want := range []string{td.dest, "permission denied", "file-0.bin"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the error does not name %s:\n%s", want, stderr)
		}
	}
	if done := committed(t, td); !done.IsZero() {
		t.Errorf("committed UIDs %s with nothing written, want none", done.String())
	}
	if got := td.files(t); len(got) != 0 {
		t.Errorf("files written to a read-only destination: %v", got)
	}

	grant()
	if code, stderr := runChild(t, asUser()); code != exitOK {
		t.Fatalf("run with permission: exit %d\n%s", code, stderr)
	}
	sameFiles(t, "after permission was granted", td.files(t), fx.want)
}

// unprivileged returns a command running mailtask for td as a user the
// destination's permissions apply to, and a function that grants that user
// write access to the destination. As root that user is nobody, who gets
// the state directory and a copy of this binary it can execute.
func unprivileged(t *testing.T, td taskDir) (cmd func() *exec.Cmd, grant func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		return func() *exec.Cmd { return mailtaskCmd("run-task", "--config", td.config, "t") },
			func() {
				if err := os.Chmod(td.dest, 0o755); err != nil {
					t.Fatal(err)
				}
			}
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("running as root, the test needs the user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	// nobody must reach the config and state through t.TempDir's 0700
	// parents, and execute the test binary outside Go's private build
	// directory.
	for dir := td.dir; dir != filepath.Dir(dir) && dir != os.TempDir(); dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(td.state, uid, gid); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(td.dir, "mailtask.test")
	copyFile(t, os.Args[0], bin, 0o755)
	return func() *exec.Cmd {
			c := mailtaskCmd("run-task", "--config", td.config, "t")
			c.Path, c.Args[0] = bin, bin
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
			return c
		}, func() {
			if err := os.Chown(td.dest, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
}

func copyFile(t *testing.T, from, to string, perm os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
