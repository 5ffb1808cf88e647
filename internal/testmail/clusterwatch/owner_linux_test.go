package clusterwatch

import (
	"net"
	"os"
	"testing"
	"time"
)

func TestSocketOwnerFindsTheProcessHoldingAConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	// As a server sees it: the client's address, and its own.
	me := os.Getpid()
	if got := SocketOwner(server.RemoteAddr(), server.LocalAddr(), []int{me + 1_000_000, me}); got != me {
		t.Fatalf("owner %d, want this process %d", got, me)
	}
	if got := SocketOwner(server.RemoteAddr(), server.LocalAddr(), []int{me + 1_000_000}); got != 0 {
		t.Errorf("owner %d among processes that do not hold it, want 0", got)
	}
	client.Close()
	if got := SocketOwner(server.RemoteAddr(), server.LocalAddr(), []int{me}); got != 0 {
		t.Errorf("owner %d of a closed connection, want 0", got)
	}
}
