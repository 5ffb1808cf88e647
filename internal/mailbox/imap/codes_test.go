package imap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// exchangeCode is a response code in the shape Exchange Online sends on
// status responses, successful ones included.
const exchangeCode = `[Error="Microsoft.Exchange.Data.Storage.WrongServerException:Cross Server access is not allowed for mailbox 5d3c" AuthResultFromPopImapEnd=0 Proxy=AM0PR01MB1234.EURPRD01.PROD.OUTLOOK.COM:1993:SSL]`

func TestFixStatusCode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"A1 OK " + exchangeCode + " LOGIN completed.\r\n",
			"A1 OK [UNPARSEABLE] " + exchangeCode[1:len(exchangeCode)-1] + " LOGIN completed.\r\n"},
		{`* NO ["a]b" x] later` + "\r\n", `* NO [UNPARSEABLE] "a]b" x later` + "\r\n"},
		{`A2 bad [Error=1"x"] y` + "\r\n", `A2 bad [UNPARSEABLE] Error=1"x" y` + "\r\n"},
		// Codes go-imap parses, other responses and lines without an end
		// of code pass unchanged.
		{"A1 OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] done\r\n", ""},
		{"A1 NO [UNAVAILABLE] try later\r\n", ""},
		{"A1 OK [READ-ONLY] EXAMINE completed\r\n", ""},
		{`* 1 FETCH (FLAGS (\Seen) BODY[] {5}` + "\r\n", ""},
		{`* SEARCH 1 2` + "\r\n", ""},
		{`A1 OK [Error="unterminated` + "\r\n", ""},
		{"+ [Error=\"x\"]\r\n", ""},
	} {
		want := tc.want
		if want == "" {
			want = tc.in
		}
		if got := string(fixStatusCode([]byte(tc.in))); got != want {
			t.Errorf("fixStatusCode(%q)\n got %q\nwant %q", tc.in, got, want)
		}
	}
}

func TestDropPartialCount(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"* 1 FETCH (UID 1 BODY[HEADER]<0.1048577> {40}\r\n", "* 1 FETCH (UID 1 BODY[HEADER]<0> {40}\r\n"},
		{"* 2 FETCH (BODY[]<512.1024> {1024+}\r\n", "* 2 FETCH (BODY[]<512> {1024+}\r\n"},
		{"* 3 FETCH (BINARY[1]<0.9> ~{9}\r\n", "* 3 FETCH (BINARY[1]<0> ~{9}\r\n"},
		// The origin alone, no literal, or no section: unchanged.
		{"* 1 FETCH (UID 1 BODY[HEADER]<0> {40}\r\n", ""},
		{"* 1 FETCH (UID 1 BODY[HEADER]<0.5> \"abcde\")\r\n", ""},
		{"* 1 FETCH (UID 1 X<0.5> {5}\r\n", ""},
		{"* 1 FETCH (UID 1 BODY[]<0.x> {5}\r\n", ""},
		{"* 1 FETCH (UID 1 BODY[]<.5> {5}\r\n", ""},
	} {
		want := tc.want
		if want == "" {
			want = tc.in
		}
		if got := string(dropPartialCount([]byte(tc.in))); got != want {
			t.Errorf("dropPartialCount(%q)\n got %q\nwant %q", tc.in, got, want)
		}
	}
}

// TestCodeFilterLeavesLiteralsAlone streams responses whose literals
// contain status lines with unparseable codes, in reads of every size:
// the literal bytes arrive as sent, the real status lines are rewritten.
func TestCodeFilterLeavesLiteralsAlone(t *testing.T) {
	body := "A5 OK " + exchangeCode + " FETCH completed.\r\n* NO " + exchangeCode + " x\r\n"
	short := `A1 NO ["a]b" c]` + "\r\n"
	prefix := fmt.Sprintf("* 1 FETCH (UID 7 BODY[] {%d}\r\n%s)\r\n* 2 FETCH (BODY[] {%d+}\r\n%s UID 8)\r\n", len(body), body, len(body), body) +
		// a literal behind a line longer than the filter's buffer
		fmt.Sprintf("* 3 FETCH (BODY[HEADER.FIELDS (%s)] {%d}\r\n%s)\r\n", strings.Repeat("X ", codeFilterBuffer), len(short), short)
	stream := prefix + "A5 OK " + exchangeCode + " FETCH completed.\r\n"
	want := prefix + "A5 OK [UNPARSEABLE] " + exchangeCode[1:len(exchangeCode)-1] + " FETCH completed.\r\n"
	for _, size := range []int{1, 7, 512, 64 << 10} {
		f := newCodeFilter(fakeConn{Reader: strings.NewReader(stream)})
		var got bytes.Buffer
		buf := make([]byte, size)
		for {
			n, err := f.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if got.String() != want {
			t.Errorf("reads of %d bytes: got\n%.400q\nwant\n%.400q", size, got.String(), want)
		}
	}
}

type fakeConn struct {
	net.Conn
	io.Reader
}

func (c fakeConn) Read(p []byte) (int, error) { return c.Reader.Read(p) }

// exchangeBed is the in-process IMAP server behind the fault proxy, which
// rewrites or answers one command of the first connection.
func exchangeBed(t *testing.T, fault testmail.Fault, raw ...[]byte) *config.Account {
	t.Helper()
	srv, err := testmail.StartIMAP(testmail.IMAPOptions{Username: "user", Password: "pass"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for _, r := range raw {
		if _, err := srv.Append("INBOX", r); err != nil {
			t.Fatal(err)
		}
	}
	p, err := testmail.StartFaultProxy(testmail.FaultProxyOptions{Target: srv.Addr, Faults: []testmail.Fault{fault}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	host, port, _ := net.SplitHostPort(p.Addr())
	n, _ := strconv.Atoi(port)
	return &config.Account{Host: host, Port: n, TLS: config.TLSNone, Username: "user", Timeout: config.Duration(10 * time.Second)}
}

func dialBed(t *testing.T, a *config.Account) (*Session, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	s, err := Dial(ctx, a, auth.Password("user", "pass"))
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

func TestExchangeCodeOnLoginOK(t *testing.T) {
	a := exchangeBed(t, testmail.Fault{Kind: testmail.FaultRewrite, On: "LOGIN", Reply: "{tag} OK " + exchangeCode + " LOGIN completed."})
	s, err := dialBed(t, a)
	if err != nil {
		t.Fatalf("a login the server accepted failed: %v", err)
	}
	if _, err := s.Select(context.Background(), "INBOX", mailbox.After{Action: config.AfterNone}); err != nil {
		t.Errorf("the session is unusable after the login: %v", err)
	}
}

func TestExchangeCodeOnFetchNOIsTransient(t *testing.T) {
	a := exchangeBed(t, testmail.Fault{Kind: testmail.FaultAnswer, On: "UID FETCH", Reply: "{tag} NO " + exchangeCode + " FETCH completed."},
		[]byte("Subject: a\r\n\r\nbody\r\n"))
	s, err := dialBed(t, a)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Select(ctx, "INBOX", mailbox.After{Action: config.AfterNone}); err != nil {
		t.Fatal(err)
	}
	err = s.Fetch(ctx, []mailbox.Message{{UID: 1}}, func(mailbox.Message, io.Reader) error { return nil })
	if err == nil || !mailbox.IsTransient(err) {
		t.Fatalf("FETCH refused with Exchange's code: %v, transient %v; want a transient error", err, mailbox.IsTransient(err))
	}
	if !strings.Contains(err.Error(), "WrongServerException") {
		t.Errorf("the error does not carry what the server said: %v", err)
	}
}

func TestExchangeCodeInsideLiteralArrivesUnchanged(t *testing.T) {
	raw := []byte("Subject: quoting a server\r\n\r\nA4 OK " + exchangeCode + " FETCH completed.\r\n* NO " + exchangeCode + " x\r\n")
	a := exchangeBed(t, testmail.Fault{}, raw)
	s, err := dialBed(t, a)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Select(ctx, "INBOX", mailbox.After{Action: config.AfterNone}); err != nil {
		t.Fatal(err)
	}
	found, err := s.New(ctx, mailbox.NoneTaken)
	msgs := found.New
	if err != nil || len(msgs) != 1 {
		t.Fatalf("New: %v, %v", msgs, err)
	}
	var got []byte
	err = s.Fetch(ctx, msgs, func(_ mailbox.Message, r io.Reader) error {
		got, err = io.ReadAll(r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, raw) {
		t.Errorf("message changed in transit:\n got %q\nwant %q", got, raw)
	}
}

// BenchmarkCodeFilter reads FETCH responses of small messages, the filter's
// worst case (a line to examine per message), through the filter.
func BenchmarkCodeFilter(b *testing.B) {
	var stream strings.Builder
	msg := strings.Repeat("a line of a small message, as most mail is\r\n", 40)
	for i := range 1000 {
		fmt.Fprintf(&stream, "* %d FETCH (UID %d BODY[] {%d}\r\n%s)\r\n", i+1, i+1, len(msg), msg)
	}
	stream.WriteString("A1 OK FETCH completed.\r\n")
	data := stream.String()
	b.SetBytes(int64(len(data)))
	buf := make([]byte, 4096) // what imapclient's bufio.Reader asks for
	for b.Loop() {
		f := newCodeFilter(fakeConn{Reader: strings.NewReader(data)})
		for {
			if _, err := f.Read(buf); err == io.EOF {
				break
			}
		}
	}
}

// FuzzCodeFilter: whatever a server sends, the filter ends, changes nothing
// in a stream without a response code, and only ever adds the UNPARSEABLE
// code to a line it rewrites, keeping every byte it was given in order. A
// stream past the wire's bounds (wire.go) ends in errTooLong, what it
// passed on until then kept to the same rules.
func FuzzCodeFilter(f *testing.F) {
	for _, s := range []string{
		"* OK ready\r\n",
		"A1 OK " + exchangeCode + " LOGIN completed.\r\n",
		"* 1 FETCH (UID 7 BODY[] {12}\r\nA1 OK [x\"]\r\n)\r\nA2 OK done\r\n",
		`A1 NO ["a]b" c]` + "\r\n",
		"* 2 FETCH (BODY[] {3+}\r\nabc UID 8)\r\n",
		"A1 OK [",
		"{99999999999999999999}\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := io.ReadAll(newCodeFilter(fakeConn{Reader: bytes.NewReader(in)}))
		bounded := errors.Is(err, errTooLong)
		if err != nil && !bounded {
			t.Fatal(err)
		}
		if !bytes.Contains(in, []byte("[")) && !bytes.Equal(out, in) && !(bounded && bytes.HasPrefix(in, out)) {
			t.Fatalf("a stream without response codes changed:\n%q\n%q", in, out)
		}
		// Remove what a rewrite adds; the rest is the input's bytes in order.
		rest := bytes.ReplaceAll(out, []byte("["+unparseableCode+"] "), nil)
		if !isSubsequence(rest, in) {
			t.Fatalf("output %q is not the input %q with codes added", out, in)
		}
	})
}

// isSubsequence reports whether a's bytes appear in b in order.
func isSubsequence(a, b []byte) bool {
	for _, c := range a {
		i := bytes.IndexByte(b, c)
		if i < 0 {
			return false
		}
		b = b[i+1:]
	}
	return true
}
