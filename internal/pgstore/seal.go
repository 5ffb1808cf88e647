package pgstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// TokenKeySize is the size of the token key: AES-256.
const TokenKeySize = 32

// sealVersion is the first byte of every sealed token: the format (AES-GCM
// with a random 12-byte nonce after it), so that another can follow.
const sealVersion = 1

// sealer seals tokens at rest with AES-256-GCM. The associated data names
// the row (table and key), so a sealed value moved to another account's
// row does not open.
type sealer struct {
	aead    cipher.AEAD
	setting string // how the configuration named the key, for errors
}

// ErrTokenKey is wrapped by the errors of tokens that do not open with the
// configured key.
var ErrTokenKey = errors.New("the stored tokens cannot be decrypted with the configured token key")

func newSealer(key []byte, setting string) (*sealer, error) {
	if setting == "" {
		setting = "the token key"
	}
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
	return &sealer{aead: aead, setting: setting}, nil
}

// seal encrypts plain for the row named by aad.
func (s *sealer) seal(plain []byte, aad string) []byte {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:]) // never fails (crypto/rand)
	return s.aead.Seal(out, out[1:], plain, []byte(aad))
}

// open decrypts what seal made for the row named by aad; what, as "the
// tokens of account x", names the row in errors.
func (s *sealer) open(sealed []byte, aad, what string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return nil, fmt.Errorf("%s are stored in a format this mailtask does not know (a newer one may have written them)", what)
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("%s: %w that %s gives: it is not the key they were sealed with (every node must have the same key), or the row is damaged; with the right key lost, sign in again (`mailtask auth login`)", what, ErrTokenKey, s.setting)
	}
	return plain, nil
}
