package pgstore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

var (
	keyA = bytes.Repeat([]byte{'a'}, TokenKeySize)
	keyB = bytes.Repeat([]byte{'b'}, TokenKeySize)
	keyC = bytes.Repeat([]byte{'c'}, TokenKeySize)
)

func testSealer(t *testing.T, current, previous []byte) *sealer {
	t.Helper()
	s, err := newSealer(Options{TokenKey: current, TokenKeySetting: "token_key_env NEW", PreviousTokenKey: previous, PreviousTokenKeySetting: "token_key_previous_env OLD"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sealV1With seals plain in the format of the releases before key
// identifiers, as they did.
func sealV1With(t *testing.T, key, plain []byte, aad string) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 1+aead.NonceSize())
	out[0] = sealV1
	rand.Read(out[1:])
	return aead.Seal(out, out[1:], plain, []byte(aad))
}

func TestSealOpensWithTheCurrentOrPreviousKey(t *testing.T) {
	old, rotated, onlyNew := testSealer(t, keyA, nil), testSealer(t, keyB, keyA), testSealer(t, keyB, nil)
	plain := []byte("refresh-token")
	for _, c := range []struct {
		name   string
		sealed []byte
		stale  bool
	}{
		{"sealed with the previous key", old.seal(plain, "row"), true},
		{"sealed with the current key", rotated.seal(plain, "row"), false},
		{"the format before key identifiers, previous key", sealV1With(t, keyA, plain, "row"), true},
		{"the format before key identifiers, current key", sealV1With(t, keyB, plain, "row"), true},
	} {
		got, stale, err := rotated.open(c.sealed, "row", "the tokens")
		if err != nil || !bytes.Equal(got, plain) || stale != c.stale {
			t.Errorf("%s: %q, stale %v, %v; want the token, stale %v", c.name, got, stale, err, c.stale)
		}
	}
	if sealed := rotated.seal(plain, "row"); sealed[0] != sealVersion || !bytes.Equal(sealed[1:1+keyIDSize], onlyNew.current.id[:]) {
		t.Errorf("sealed %x: want version %d and the current key's identifier %x", sealed[:1+keyIDSize], sealVersion, onlyNew.current.id)
	}
	if _, _, err := onlyNew.open(old.seal(plain, "row"), "row", "the tokens"); !errors.Is(err, ErrTokenKey) || !strings.Contains(err.Error(), "which this node lacks") || !strings.Contains(err.Error(), TokenKeyID(keyA)) {
		t.Errorf("a row of a key the node lacks: %v; want ErrTokenKey naming that key's identifier", err)
	}
	if _, _, err := onlyNew.open(onlyNew.seal(plain, "row"), "another row", "the tokens"); !errors.Is(err, ErrTokenKey) || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("a row moved: %v; want ErrTokenKey saying the row is damaged or copied", err)
	}
	if _, _, err := onlyNew.open(sealV1With(t, keyC, plain, "row"), "row", "the tokens"); !errors.Is(err, ErrTokenKey) || !strings.Contains(err.Error(), "token_key_env NEW") {
		t.Errorf("an old-format row of another key: %v; want ErrTokenKey naming the setting", err)
	}
	future := rotated.seal(plain, "row")
	future[0] = sealVersion + 1
	if _, _, err := rotated.open(future, "row", "the tokens"); err == nil || errors.Is(err, ErrTokenKey) || !strings.Contains(err.Error(), "format this mailtask does not know") {
		t.Errorf("a later format: %v; want one naming the format, not the key", err)
	}
}
