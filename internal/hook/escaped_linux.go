package hook

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// killEscaped kills what the hook started outside its process group: the
// processes descending from pid, and those whose environment holds the
// hook's marker (a daemon whose parent exited has a new parent, but keeps
// its environment unless it clears it). A few rounds catch children forked
// while their parents were being killed.
func killEscaped(pid int, marker string) {
	for range 5 {
		found := escaped(pid, []byte(Prefix+markerVar+"="+marker+"\x00"))
		if len(found) == 0 {
			return
		}
		for _, p := range found {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
}

// escaped lists the live processes descending from pid or carrying
// marker in their environment, found in /proc.
func escaped(pid int, marker []byte) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	var found []int
	seen := map[int]bool{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		ppid, live := parentOf(p)
		if !live {
			continue
		}
		children[ppid] = append(children[ppid], p)
		// Reading another user's environment fails: not ours to kill anyway.
		if env, err := os.ReadFile("/proc/" + e.Name() + "/environ"); err == nil && bytes.Contains(env, marker) {
			found, seen[p] = append(found, p), true
		}
	}
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			if !seen[c] {
				found, seen[c] = append(found, c), true
				queue = append(queue, c)
			}
		}
	}
	return found
}

// parentOf reads the parent of process p from /proc/p/stat, and whether p
// is alive (not a zombie waiting for its parent to reap it).
func parentOf(p int) (ppid int, live bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
	if err != nil {
		return 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 2 || string(fields[0]) == "Z" {
		return 0, false
	}
	ppid, err = strconv.Atoi(string(fields[1]))
	return ppid, err == nil
}
