package imap

import (
	"bufio"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/testmail"
)

// startTLSServer is a scripted IMAP server offering STARTTLS: it answers
// STARTTLS with afterOK (its OK line and anything it then injects), and
// after the handshake LOGIN with loginReply and every other command with
// OK. It returns an account pointing at it.
func startTLSServer(t *testing.T, afterOK, loginReply string) *config.Account {
	t.Helper()
	ca, err := testmail.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	caFile, err := ca.WriteCertFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(conn)
		conn.Write([]byte("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n"))
		if line, err := r.ReadString('\n'); err != nil || !strings.HasSuffix(strings.TrimSpace(line), "STARTTLS") {
			return
		}
		conn.Write([]byte(afterOK))
		tc := tls.Server(conn, ca.ServerTLS)
		if tc.Handshake() != nil {
			return
		}
		tr := bufio.NewReader(tc)
		for {
			line, err := tr.ReadString('\n')
			if err != nil {
				return
			}
			tag, cmd, _ := strings.Cut(strings.TrimSpace(line), " ")
			verb, _, _ := strings.Cut(cmd, " ")
			switch strings.ToUpper(verb) {
			case "CAPABILITY":
				tc.Write([]byte("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + " OK done\r\n"))
			case "LOGIN":
				tc.Write([]byte(strings.ReplaceAll(loginReply, "{tag}", tag)))
			case "LOGOUT":
				tc.Write([]byte("* BYE\r\n" + tag + " OK bye\r\n"))
				return
			default:
				tc.Write([]byte(tag + " OK done\r\n"))
			}
		}
	}()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	n, _ := strconv.Atoi(port)
	return &config.Account{Host: host, Port: n, TLS: config.TLSStartTLS, CAFile: caFile, Username: "user", Timeout: config.Duration(10 * time.Second)}
}

// Under STARTTLS too, a login Exchange completes with its unparseable
// response code succeeds: the code filter reads the upgraded stream.
func TestStartTLSExchangeCodeOnLoginOK(t *testing.T) {
	a := startTLSServer(t, "S0 OK Begin TLS negotiation now.\r\n", "{tag} OK "+exchangeCode+" LOGIN completed.\r\n")
	if _, err := dialBed(t, a); err != nil {
		t.Fatalf("a login the server accepted over STARTTLS failed: %v", err)
	}
}

// Plain text sent after the STARTTLS reply would be read as if it came
// over TLS; the connection is refused instead. (Should the injected line
// reach the client in a segment of its own, after the reply was read, the
// TLS handshake refuses it instead.)
func TestStartTLSRefusesInjectedData(t *testing.T) {
	a := startTLSServer(t, "S0 OK Begin TLS negotiation now.\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n", "{tag} OK LOGIN completed.\r\n")
	_, err := dialBed(t, a)
	if err == nil || !strings.Contains(err.Error(), "injection") && !strings.Contains(err.Error(), "tls") {
		t.Fatalf("Dial: %v, want the injected data refused", err)
	}
}

// A server that refuses STARTTLS is reported with its reply.
func TestStartTLSRefused(t *testing.T) {
	a := startTLSServer(t, "S0 BAD STARTTLS not available\r\n", "")
	_, err := dialBed(t, a)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS not available") {
		t.Fatalf("Dial: %v, want the server's refusal", err)
	}
}
