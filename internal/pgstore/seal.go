package pgstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// TokenKeySize is the size of the token key: AES-256.
const TokenKeySize = 32

// The sealed formats, told apart by their first byte. sealV1 (AES-GCM,
// a random 12-byte nonce after the byte) is still opened; seal writes
// sealVersion, which names the key after the byte (keyIDSize bytes, then
// the nonce), so that a row sealed with a key a node lacks is told from a
// damaged one, and the rows still under a previous key are counted by
// the database without opening them. A node of a release before it meets
// a row in it with "a format this mailtask does not know", and writes
// nothing over it: its update fails before it runs.
const (
	sealV1      = 1
	sealVersion = 2
)

// keyIDSize is the length of a key's identifier in the sealed format. It
// is a fingerprint, not a secret: 4 bytes of an HMAC under the key, which
// tells nothing of it. Two keys sharing one (1 in 4 billion) only cost a
// second try.
const keyIDSize = 4

// sealKey is one token key.
type sealKey struct {
	aead    cipher.AEAD
	id      [keyIDSize]byte
	setting string // how the configuration named the key, for errors
}

// sealer seals tokens at rest with AES-256-GCM under the current key and
// opens them under it or the previous one, which a rotation keeps until
// every row is sealed anew (`mailtask db reseal-tokens`). The associated
// data names the row (table and key), so a sealed value moved to another
// account's row does not open.
type sealer struct {
	current, previous *sealKey // previous is nil without one
}

// ErrTokenKey is wrapped by the errors of tokens that do not open with the
// configured keys.
var ErrTokenKey = errors.New("the stored tokens cannot be decrypted with the configured token key")

// TokenKeyID is the identifier of key that sealed rows carry and that
// messages show, so that operators can compare the keys of their nodes
// without showing them.
func TokenKeyID(key []byte) string { return idString(keyID(key)) }

func idString(id [keyIDSize]byte) string { return hex.EncodeToString(id[:]) }

func keyID(key []byte) [keyIDSize]byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("mailtask token key id"))
	return [keyIDSize]byte(m.Sum(nil))
}

func newSealKey(key []byte, setting string) (*sealKey, error) {
	if len(key) != TokenKeySize {
		return nil, fmt.Errorf("%s: the key is %d bytes, it must be %d (the base64 of 32 random bytes, as `openssl rand -base64 32` prints)", setting, len(key), TokenKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	return &sealKey{aead: aead, id: keyID(key), setting: setting}, nil
}

// String names the key in messages: its identifier and its setting.
func (k *sealKey) String() string { return fmt.Sprintf("key %s (%s)", k.idString(), k.setting) }

func (k *sealKey) idString() string { return idString(k.id) }

func newSealer(o Options) (*sealer, error) {
	setting := o.TokenKeySetting
	if setting == "" {
		setting = "the token key"
	}
	current, err := newSealKey(o.TokenKey, setting)
	if err != nil {
		return nil, err
	}
	s := &sealer{current: current}
	if o.PreviousTokenKey == nil {
		return s, nil
	}
	setting = o.PreviousTokenKeySetting
	if setting == "" {
		setting = "the previous token key"
	}
	s.previous, err = newSealKey(o.PreviousTokenKey, setting)
	return s, err
}

// seal encrypts plain with the current key for the row named by aad.
func (s *sealer) seal(plain []byte, aad string) []byte {
	k := s.current
	head := 1 + keyIDSize
	n := k.aead.NonceSize()
	out := make([]byte, head+n, head+n+len(plain)+k.aead.Overhead())
	out[0] = sealVersion
	copy(out[1:head], k.id[:])
	rand.Read(out[head:]) // never fails (crypto/rand)
	return k.aead.Seal(out, out[head:], plain, sealedAAD(out[:head], aad))
}

// sealedAAD binds the format and key identifier to the ciphertext as well
// as the row.
func sealedAAD(head []byte, aad string) []byte {
	return append(head[:len(head):len(head)], aad...)
}

// open decrypts what seal made for the row named by aad; what, as "the
// tokens of account x", names the row in errors. stale reports that the
// row is not in the current format under the current key, so that it is
// to be sealed anew.
func (s *sealer) open(sealed []byte, aad, what string) (plain []byte, stale bool, err error) {
	if len(sealed) == 0 || (sealed[0] != sealV1 && sealed[0] != sealVersion) {
		return nil, false, fmt.Errorf("%s are stored in a format this mailtask does not know (a newer one may have written them)", what)
	}
	if sealed[0] == sealV1 {
		return s.openV1(sealed, aad, what)
	}
	head := 1 + keyIDSize
	n := s.current.aead.NonceSize()
	if len(sealed) < head+n {
		return nil, false, fmt.Errorf("%s: %w: the row is cut short; sign in again (`mailtask auth login`)", what, ErrTokenKey)
	}
	id := [keyIDSize]byte(sealed[1:head])
	var tried *sealKey
	for _, k := range s.keys() {
		if k.id != id {
			continue // (two keys sharing an identifier are both tried)
		}
		tried = k
		if plain, err := k.aead.Open(nil, sealed[head:head+n], sealed[head+n:], sealedAAD(sealed[:head], aad)); err == nil {
			return plain, k != s.current, nil
		}
	}
	if tried != nil {
		return nil, false, fmt.Errorf("%s: %w: they do not open with %s, whose identifier they carry: the row is damaged, or was copied from another's; sign in again (`mailtask auth login`)", what, ErrTokenKey, tried)
	}
	return nil, false, fmt.Errorf("%s: %w: they were sealed with key %s, which this node lacks (it has %s): %s", what, ErrTokenKey, idString(id), s.describeKeys(), keyAdvice)
}

// keyAdvice is what to do about a row sealed with a key a node lacks.
const keyAdvice = "every node must have the key the tokens are sealed with; during a rotation, give this node the new key (as its token key, the old one as token_key_previous_env or _file) and restart it; with that key lost, sign in again (`mailtask auth login`)"

// openV1 opens the format without a key identifier by trying each key.
func (s *sealer) openV1(sealed []byte, aad, what string) ([]byte, bool, error) {
	for _, k := range s.keys() {
		n := k.aead.NonceSize()
		if len(sealed) < 1+n {
			break
		}
		if plain, err := k.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(aad)); err == nil {
			return plain, true, nil
		}
	}
	return nil, false, fmt.Errorf("%s: %w: they open with none of this node's keys (%s): the row is damaged, or %s", what, ErrTokenKey, s.describeKeys(), keyAdvice)
}

// keys are the keys to open with, the current first.
func (s *sealer) keys() []*sealKey {
	if s.previous == nil {
		return []*sealKey{s.current}
	}
	return []*sealKey{s.current, s.previous}
}

func (s *sealer) describeKeys() string {
	if s.previous == nil {
		return s.current.String()
	}
	return s.current.String() + " and previous " + s.previous.String()
}
