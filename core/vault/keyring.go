package vault

import (
	"fmt"
	"io"
	"sync"
)

// maxOtherKeys bounds the cache of keys for salts other than the vault's own.
// A GenosOS import can hold one salt per file; past this many, keys are derived,
// used once and destroyed instead of cached (evicting a cached key could race
// with a reader still using it).
const maxOtherKeys = 1024

// keyring is everything an unlocked vault knows: the HMAC states keyed with the
// passphrase, the key for the vault's current salt and keys for other salts
// met while unlocked. It is replaced, never reused, across lock/unlock.
type keyring struct {
	prf     *prf
	current *Key

	mu     sync.Mutex // guards others
	others map[[saltLen]byte]*Key
}

func newKeyring(p *prf, current *Key) *keyring {
	return &keyring{prf: p, current: current, others: map[[saltLen]byte]*Key{}}
}

// cached returns the key for salt if the keyring already has it.
func (kr *keyring) cached(salt [saltLen]byte) *Key {
	if salt == kr.current.salt {
		return kr.current
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return kr.others[salt]
}

// store caches k for its salt and reports whether the cache kept it. If
// another goroutine cached the same salt first, that key is returned and k is
// destroyed.
func (kr *keyring) store(k *Key) (*Key, bool) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if prev, ok := kr.others[k.salt]; ok {
		k.Destroy()
		return prev, true
	}
	if len(kr.others) >= maxOtherKeys {
		return k, false
	}
	kr.others[k.salt] = k
	return k, true
}

// destroy zeroes every key and the HMAC states. The caller guarantees no one
// is still using the keyring (the vault holds its write lock).
func (kr *keyring) destroy() {
	if kr == nil {
		return
	}
	kr.prf.destroy()
	kr.current.Destroy()
	kr.mu.Lock()
	defer kr.mu.Unlock()
	for salt, k := range kr.others {
		k.Destroy()
		delete(kr.others, salt)
	}
}

// Format keeps key material out of any printed value.
func (kr *keyring) Format(f fmt.State, verb rune) { io.WriteString(f, "vault.keyring(redacted)") }
