package mailgen

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestBase64Lines(t *testing.T) {
	content := RandomBytes(rand.New(rand.NewPCG(1, 2)), 1000)
	enc := Base64Lines(content)
	lines := strings.Split(strings.TrimSuffix(string(enc), "\r\n"), "\r\n")
	for i, line := range lines[:len(lines)-1] {
		if len(line) != 76 {
			t.Fatalf("line %d has %d characters, want 76", i, len(line))
		}
	}
	dec, err := base64.StdEncoding.DecodeString(strings.Join(lines, ""))
	if err != nil || !bytes.Equal(dec, content) {
		t.Fatalf("Base64Lines does not round-trip: %v", err)
	}
}
