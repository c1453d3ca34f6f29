package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"
)

// Key is an AES-256-GCM key derived from a passphrase, together with the salt
// it was derived with (the salt goes into every envelope it seals). Its bytes
// are never printed: every fmt verb renders it as "vault.Key(redacted)".
//
// A Key is safe for concurrent sealing and opening, but Destroy must not race
// with them; the Vault guarantees that for the keys it caches.
type Key struct {
	salt [saltLen]byte
	key  []byte
	aead cipher.AEAD
}

// DeriveKey derives the key for passphrase and a 32-byte salt with
// PBKDF2-HMAC-SHA512 (100,000 iterations). It takes about 50 ms of CPU on
// purpose. The caller keeps ownership of passphrase and should clear it.
func DeriveKey(passphrase, salt []byte) (*Key, error) {
	if len(salt) != saltLen {
		return nil, fmt.Errorf("derive key: salt is %d bytes, want %d", len(salt), saltLen)
	}
	p, err := newPRF(passphrase)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	defer p.destroy()
	return p.key([saltLen]byte(salt))
}

// NewKey derives a key for passphrase under a fresh random salt, as for a new
// vault or a rekey.
func NewKey(passphrase []byte) (*Key, error) {
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(rand.Reader, salt); err != nil {
		return nil, fmt.Errorf("new key: read random salt: %w", err)
	}
	return DeriveKey(passphrase, salt)
}

// key derives the Key for salt.
func (p *prf) key(salt [saltLen]byte) (*Key, error) {
	raw, err := p.pbkdf2(salt[:])
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	return newKey(salt, raw)
}

// newKey wraps raw key bytes, taking ownership of raw.
func newKey(salt [saltLen]byte, raw []byte) (*Key, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		clear(raw)
		return nil, fmt.Errorf("aes key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		clear(raw)
		return nil, fmt.Errorf("aes-gcm: %w", err)
	}
	return &Key{salt: salt, key: raw, aead: aead}, nil
}

// Destroy zeroes the key bytes and drops the cipher. A destroyed key refuses
// to seal or open (ErrLocked). The AES key schedule inside crypto/aes cannot
// be reached to zero; it is released to the garbage collector.
func (k *Key) Destroy() {
	if k == nil {
		return
	}
	clear(k.key)
	k.aead = nil
}

// Format renders the key without its bytes, whatever the verb, so that a key
// that ends up in a log line or error message leaks nothing.
func (k *Key) Format(f fmt.State, verb rune) {
	io.WriteString(f, "vault.Key(redacted)")
}

// seal encrypts plaintext under a fresh random IV.
func (k *Key) seal(plaintext []byte) (*envelope, error) {
	if k == nil || k.aead == nil {
		return nil, ErrLocked
	}
	e := &envelope{salt: k.salt}
	if _, err := io.ReadFull(rand.Reader, e.iv[:]); err != nil {
		return nil, fmt.Errorf("seal: read random iv: %w", err)
	}
	out := k.aead.Seal(make([]byte, 0, len(plaintext)+tagLen), e.iv[:], plaintext, nil)
	n := len(out) - tagLen
	copy(e.tag[:], out[n:])
	e.data = out[:n]
	return e, nil
}

// open authenticates and decrypts e, which must carry this key's salt. On
// failure it returns ErrAuthFailed and no data.
func (k *Key) open(e *envelope) ([]byte, error) {
	if k == nil || k.aead == nil {
		return nil, ErrLocked
	}
	ct := make([]byte, 0, len(e.data)+tagLen)
	ct = append(append(ct, e.data...), e.tag[:]...)
	pt, err := k.aead.Open(ct[:0], e.iv[:], ct, nil)
	if err != nil {
		return nil, ErrAuthFailed
	}
	return pt, nil
}
