package vault

import (
	"crypto/sha512"
	"encoding"
	"encoding/binary"
	"fmt"
	"hash"
)

// NYXENC1's key derivation parameters, fixed by the format.
const (
	kdfIterations = 100000
	keyLen        = 32 // AES-256
	saltLen       = 32
	ivLen         = 12
	tagLen        = 16
)

// prf is HMAC-SHA512 keyed with a passphrase, held as the two SHA-512 states
// after absorbing the passphrase's ipad and opad blocks. It derives keys for
// any salt exactly as the passphrase would (crypto/pbkdf2 precomputes the same
// states internally), but unlike the passphrase it cannot be read back: so the
// vault can open envelopes with salts it has not seen yet without keeping the
// passphrase around. Both states are zeroed by destroy.
type prf struct {
	inner, outer []byte // marshalled sha512 states
}

// newPRF keys HMAC-SHA512 with passphrase (RFC 2104: keys longer than the
// block are hashed first, shorter ones zero-padded). The caller still owns and
// should clear passphrase.
func newPRF(passphrase []byte) (*prf, error) {
	var k, pad [sha512.BlockSize]byte
	defer clear(k[:])
	defer clear(pad[:])
	if len(passphrase) > sha512.BlockSize {
		sum := sha512.Sum512(passphrase)
		copy(k[:], sum[:])
		clear(sum[:])
	} else {
		copy(k[:], passphrase)
	}
	state := func(x byte) ([]byte, error) {
		for i := range pad {
			pad[i] = k[i] ^ x
		}
		h := sha512.New()
		h.Write(pad[:])
		return h.(encoding.BinaryMarshaler).MarshalBinary()
	}
	inner, err := state(0x36)
	if err != nil {
		return nil, fmt.Errorf("key hmac: %w", err)
	}
	outer, err := state(0x5c)
	if err != nil {
		clear(inner)
		return nil, fmt.Errorf("key hmac: %w", err)
	}
	return &prf{inner: inner, outer: outer}, nil
}

// destroy zeroes both states. The prf must not be used afterwards. A nil prf
// is ignored.
func (p *prf) destroy() {
	if p == nil {
		return
	}
	clear(p.inner)
	clear(p.outer)
}

// pbkdf2 derives keyLen bytes from salt with PBKDF2 (RFC 8018 section 5.2)
// over this PRF, with NYXENC1's iteration count.
func (p *prf) pbkdf2(salt []byte) ([]byte, error) {
	return p.derive(salt, kdfIterations, keyLen)
}

func (p *prf) derive(salt []byte, iter, n int) ([]byte, error) {
	if iter < 1 || n < 1 {
		return nil, fmt.Errorf("pbkdf2: bad parameters iter=%d len=%d", iter, n)
	}
	inner, outer := sha512.New(), sha512.New()
	var u, t [sha512.Size]byte
	var ctr [4]byte
	out := make([]byte, 0, n)
	// mac computes HMAC(p, msg...) into u, restoring the keyed states rather
	// than re-hashing the padded key on each of the 2*iter calls.
	mac := func(msg ...[]byte) error {
		if err := restore(inner, p.inner); err != nil {
			return err
		}
		for _, m := range msg {
			inner.Write(m)
		}
		sum := inner.Sum(u[:0])
		if err := restore(outer, p.outer); err != nil {
			return err
		}
		outer.Write(sum)
		outer.Sum(u[:0])
		return nil
	}
	for block := uint32(1); len(out) < n; block++ {
		binary.BigEndian.PutUint32(ctr[:], block)
		if err := mac(salt, ctr[:]); err != nil {
			return nil, err
		}
		t = u
		for range iter - 1 {
			if err := mac(u[:]); err != nil {
				return nil, err
			}
			for i := range t {
				t[i] ^= u[i]
			}
		}
		out = append(out, t[:min(n-len(out), len(t))]...)
	}
	clear(u[:])
	clear(t[:])
	return out, nil
}

func restore(h hash.Hash, state []byte) error {
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return fmt.Errorf("restore hmac state: %w", err)
	}
	return nil
}
