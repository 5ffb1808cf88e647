//go:build unix

package state

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// noFollow makes an open fail on a symbolic link (ELOOP).
const noFollow = syscall.O_NOFOLLOW

func checkOwner(dir string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("state_dir %s belongs to uid %d, not to the user mailtask runs as (uid %d), who alone must control what is in it: run \"chown %d %s\", or set state_dir to a folder of this user's", dir, st.Uid, uid, uid, dir)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("state_dir %s is writable by group or others (mode %04o): another account could plant links there that mailtask would follow; run \"chmod go-w %s\" (mailtask creates it 0700)", dir, perm, dir)
	}
	return nil
}
