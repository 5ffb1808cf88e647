package clusterwatch

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// SocketOwner returns which of pids holds the client end of the IPv4 TCP
// connection from client to server, or 0 if none does: the client has
// closed it, or exited (kill -9), or is not among pids. It reads
// /proc/net/tcp for the socket's inode and the processes' /proc/PID/fd for
// it, so it costs a few hundred system calls: ask it rarely (the IMAP
// host asks at a refused login).
func SocketOwner(client, server net.Addr, pids []int) int {
	inode := socketInode(client, server)
	if inode == "" || inode == "0" { // a socket no process holds any more has inode 0
		return 0
	}
	want := "socket:[" + inode + "]"
	for _, pid := range pids {
		fds, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
		if err != nil {
			continue // gone
		}
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name())); err == nil && target == want {
				return pid
			}
		}
	}
	return 0
}

// socketInode finds the inode of the socket whose local address is local
// and remote address remote in /proc/net/tcp; "" if there is none.
func socketInode(local, remote net.Addr) string {
	l, r := procAddr(local), procAddr(remote)
	if l == "" || r == "" {
		return ""
	}
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) > 9 && fields[1] == l && fields[2] == r {
			return fields[9]
		}
	}
	return ""
}

// procAddr writes an IPv4 address as /proc/net/tcp does: the address's
// four bytes as a little-endian word in hex, a colon, the port in hex.
func procAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return ""
	}
	ip := tcp.IP.To4()
	if ip == nil {
		return ""
	}
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], tcp.Port)
}
