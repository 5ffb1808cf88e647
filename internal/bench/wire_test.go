package bench

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"mailtask/internal/testmail/dovecot"
)

// TestWireClients checks the bare clients against Dovecot: every message
// arrives once, byte for byte as stored, dot-stuffing undone.
func TestWireClients(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	msgs := [][]byte{
		[]byte("Subject: one\r\n\r\nfirst\r\n"),
		[]byte("Subject: two\r\n\r\n.a line that POP3 dot-stuffs\r\n..and another\r\n"),
		[]byte("Subject: three\r\n\r\n" + string(make([]byte, 100_000)) + "\r\n"),
	}
	var size int64
	for _, m := range msgs {
		size += int64(len(m))
	}
	d.Seed(t, d.User, "INBOX", msgs...)
	conf, err := ClientTLS(d.CACertFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for name, fetch := range map[string]func(context.Context, string, *tls.Config, string, string) (Fetched, error){
		"IMAPS": WireIMAP, "POP3S": WirePOP3,
	} {
		addr := d.IMAPSAddr
		if name == "POP3S" {
			addr = d.POP3SAddr
		}
		f, err := fetch(ctx, addr, conf, d.User, d.Password)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Messages != len(msgs) || f.Bytes != size {
			t.Errorf("%s: fetched %d messages, %d bytes; want %d, %d", name, f.Messages, f.Bytes, len(msgs), size)
		}
	}
	if _, err := WireIMAP(ctx, d.IMAPSAddr, conf, d.User, "wrong"); err == nil {
		t.Error("IMAPS with a wrong password succeeded")
	}

	if v, err := IMAPUIDValidity(ctx, d.IMAPSAddr, conf, d.User, d.Password); err != nil || v == 0 {
		t.Errorf("IMAPUIDValidity = %d, %v", v, err)
	}
	uidls, err := POP3UIDLs(ctx, d.POP3SAddr, conf, d.User, d.Password)
	if err != nil || len(uidls) != len(msgs) || uidls[0] == uidls[1] {
		t.Errorf("POP3UIDLs = %q, %v", uidls, err)
	}
}
