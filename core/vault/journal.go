package vault

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha512"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// RekeyFile is the name, inside the vault directory, of the journal of a
// rekey in progress. While it exists either passphrase unlocks the vault.
const RekeyFile = "vault.rekey"

// journalMarker and journalVersion identify a rekey journal.
const (
	journalMarker  = "vault-rekey"
	journalVersion = 1
)

// wrapInfo separates the keys that seal a journal's key material from the
// vault keys they are derived from; see wrapKey.
const wrapInfo = "genos vault rekey journal v1"

// keysVersion is the first byte of a sealed key record.
const keysVersion = 1

// maxStateLen bounds a marshalled HMAC state in a key record (SHA-512's is
// 204 bytes).
const maxStateLen = 1024

// journal is a parsed vault.rekey. It holds no plaintext secret: everything
// in it is sealed.
type journal struct {
	// check is the check value sealed under the new key; its salt is the
	// new salt. Finish makes it vault.check.
	check *envelope
	// newKeys is the new key and HMAC states sealed under the old key's
	// wrap key; its salt is the old salt.
	newKeys *envelope
	// oldKeys is the old key and HMAC states sealed under the new key's
	// wrap key; its salt is the new salt.
	oldKeys *envelope
}

// journalFile is the JSON layout of vault.rekey. The envelopes are in inline
// form.
type journalFile struct {
	Genos   string `json:"genos"`
	Version int    `json:"version"`
	Check   string `json:"check"`
	NewKeys string `json:"newKeys"`
	OldKeys string `json:"oldKeys"`
}

// encode returns the bytes of vault.rekey.
func (j *journal) encode() []byte {
	b, err := json.Marshal(journalFile{
		Genos:   journalMarker,
		Version: journalVersion,
		Check:   string(j.check.inlineForm()),
		NewKeys: string(j.newKeys.inlineForm()),
		OldKeys: string(j.oldKeys.inlineForm()),
	})
	if err != nil { // strings only: cannot happen
		panic(fmt.Sprintf("encode rekey journal: %v", err))
	}
	return b
}

// parseJournal parses vault.rekey strictly: unknown fields, another version,
// or salts that do not fit together are ErrCorrupted.
func parseJournal(b []byte) (*journal, error) {
	var f journalFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, corrupt("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, corrupt("trailing data after the journal")
	}
	if f.Genos != journalMarker {
		return nil, corrupt("not a rekey journal")
	}
	if f.Version != journalVersion {
		return nil, corrupt("rekey journal version %d, want %d", f.Version, journalVersion)
	}
	var j journal
	for _, fld := range [...]struct {
		name string
		val  string
		dst  **envelope
	}{{"check", f.Check, &j.check}, {"newKeys", f.NewKeys, &j.newKeys}, {"oldKeys", f.OldKeys, &j.oldKeys}} {
		e, err := parseInline([]byte(fld.val))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fld.name, err)
		}
		*fld.dst = e
	}
	if j.oldKeys.salt != j.check.salt || j.newKeys.salt == j.check.salt {
		return nil, corrupt("rekey journal salts do not fit together")
	}
	return &j, nil
}

// journalPath returns the path of the rekey journal.
func (v *Vault) journalPath() string { return filepath.Join(v.dir, RekeyFile) }

// readJournal reads and parses the rekey journal; nil, nil if there is none.
func (v *Vault) readJournal() (*journal, error) {
	b, err := os.ReadFile(v.journalPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read vault rekey journal: %w", err)
	}
	j, err := parseJournal(b)
	if err != nil {
		return nil, fmt.Errorf("read vault rekey journal %s: %w", v.journalPath(), err)
	}
	return j, nil
}

// journalCorrupt reports a journal that parses but does not fit the vault.
func (v *Vault) journalCorrupt(format string, args ...any) error {
	return fmt.Errorf("vault rekey journal %s: %w", v.journalPath(), corrupt(format, args...))
}

// wrapKey derives the key that seals key material into a journal from a
// vault key (HKDF-SHA512 with its own label). Sealing under the vault key
// itself would let anyone who can get 64+ chosen bytes sealed by the vault
// (any file an agent writes) and write to the state directory plant a key
// record of their choosing in a journal; nothing else is ever sealed under
// the wrap key. The envelope still carries the vault key's salt, which is
// how Unlock knows which passphrase-derived key to start from.
func wrapKey(k *Key) (*Key, error) {
	if k == nil || k.aead == nil {
		return nil, ErrLocked
	}
	raw, err := hkdf.Key(sha512.New, k.key, nil, wrapInfo, keyLen)
	if err != nil {
		return nil, fmt.Errorf("derive journal key: %w", err)
	}
	return newKey(k.salt, raw)
}

// sealKeys seals k (salt and key bytes) and p (both HMAC states) under the
// wrap key of by. The record is assembled in one buffer that is zeroed
// before returning.
func sealKeys(by, k *Key, p *prf) (*envelope, error) {
	w, err := wrapKey(by)
	if err != nil {
		return nil, err
	}
	defer w.Destroy()
	if k.aead == nil {
		return nil, ErrLocked
	}
	buf := make([]byte, 0, 1+saltLen+keyLen+4+len(p.inner)+len(p.outer))
	defer func() { clear(buf[:cap(buf)]) }()
	buf = append(buf, keysVersion)
	buf = append(buf, k.salt[:]...)
	buf = append(buf, k.key...)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(p.inner)))
	buf = append(buf, p.inner...)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(p.outer)))
	buf = append(buf, p.outer...)
	return w.seal(buf)
}

// openKeys opens a record sealed by sealKeys under the wrap key of by. A
// wrong key is ErrAuthFailed; a record that authenticates but is malformed
// is ErrCorrupted. The decrypted record is zeroed before returning; the key
// and states returned own fresh copies.
func openKeys(by *Key, e *envelope) (*Key, *prf, error) {
	w, err := wrapKey(by)
	if err != nil {
		return nil, nil, err
	}
	defer w.Destroy()
	pt, err := w.open(e)
	if err != nil {
		return nil, nil, err
	}
	defer clear(pt)
	rest := pt
	take := func(n int) []byte {
		if n > len(rest) {
			return nil
		}
		out := rest[:n]
		rest = rest[n:]
		return out
	}
	state := func() []byte {
		n := take(2)
		if n == nil {
			return nil
		}
		l := int(binary.BigEndian.Uint16(n))
		if l == 0 || l > maxStateLen {
			return nil
		}
		return take(l)
	}
	ver, salt, raw := take(1), take(saltLen), take(keyLen)
	inner, outer := state(), state()
	if ver == nil || ver[0] != keysVersion || salt == nil || raw == nil || inner == nil || outer == nil || len(rest) != 0 {
		return nil, nil, corrupt("malformed key record")
	}
	for _, s := range [][]byte{inner, outer} {
		if err := restore(sha512.New(), s); err != nil {
			return nil, nil, corrupt("malformed key record: %v", err)
		}
	}
	k, err := newKey([saltLen]byte(salt), bytes.Clone(raw))
	if err != nil {
		return nil, nil, err
	}
	return k, &prf{inner: bytes.Clone(inner), outer: bytes.Clone(outer)}, nil
}
