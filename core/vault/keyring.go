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
//
// prf and current change only at BeginRekey, and old is dropped only at
// Finish, both under the vault's write lock; everything else reads them under
// the read lock.
type keyring struct {
	prf     *prf
	current *Key
	// old holds the replaced passphrase's HMAC states and key while a rekey
	// is pending, so that everything sealed before it still opens until it
	// has been re-sealed; nil otherwise.
	old *retired

	mu     sync.Mutex // guards others
	others map[[saltLen]byte]*Key
}

// retired is the passphrase and key a pending rekey replaces.
type retired struct {
	prf *prf
	key *Key
}

func (r *retired) destroy() {
	if r == nil {
		return
	}
	r.prf.destroy()
	r.key.Destroy()
}

func newKeyring(p *prf, current *Key) *keyring {
	return &keyring{prf: p, current: current, others: map[[saltLen]byte]*Key{}}
}

// cached returns the key for salt if the keyring already has it.
func (kr *keyring) cached(salt [saltLen]byte) *Key {
	if salt == kr.current.salt {
		return kr.current
	}
	if kr.old != nil && salt == kr.old.key.salt {
		return kr.old.key
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

// prfs returns the HMAC states to derive keys for an unknown salt with, in
// the order to try them. While a rekey is pending an envelope under another
// salt may come from either passphrase; the old one goes first because what
// is read during a rekey is mostly what is being re-sealed.
func (kr *keyring) prfs() []*prf {
	if kr.old != nil {
		return []*prf{kr.old.prf, kr.prf}
	}
	return []*prf{kr.prf}
}

// ownSalt reports whether salt is one this keyring seals with or sealed with
// before a pending rekey, so that a failed tag under it means damage.
func (kr *keyring) ownSalt(salt [saltLen]byte) bool {
	return salt == kr.current.salt || kr.old != nil && salt == kr.old.key.salt
}

// retire ends a rekey in memory: it zeroes the old passphrase's states and
// key, and every cached key for another salt, since some were derived from
// the old passphrase (the others are derived again on demand). The caller
// holds the vault's write lock.
func (kr *keyring) retire() {
	kr.old.destroy()
	kr.old = nil
	kr.dropOthers()
}

func (kr *keyring) dropOthers() {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	for salt, k := range kr.others {
		k.Destroy()
		delete(kr.others, salt)
	}
}

// destroy zeroes every key and the HMAC states. The caller guarantees no one
// is still using the keyring (the vault holds its write lock). It tolerates a
// keyring that was only partly filled in.
func (kr *keyring) destroy() {
	if kr == nil {
		return
	}
	kr.prf.destroy()
	kr.current.Destroy()
	kr.old.destroy()
	kr.dropOthers()
}

// Format keeps key material out of any printed value.
func (kr *keyring) Format(f fmt.State, verb rune) { io.WriteString(f, "vault.keyring(redacted)") }
