package vault

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/genos-project/genos/core/durable"
)

// Rekey is a passphrase and salt rotation in progress, from BeginRekey (or
// ResumeRekey after a restart) to Finish. In between, the caller re-seals
// every sealed file, line and column of the vault: it opens them with the
// usual Open and Read methods, which accept the old and the new key, and
// seals them again with the usual Seal and Write methods, which use the new
// key. Whatever is not re-sealed before Finish can never be opened again.
type Rekey struct {
	v    *Vault
	salt [saltLen]byte // the new salt; identifies this rekey's journal
}

// RekeyPending reports whether a rekey was begun and not finished, i.e.
// whether the rekey journal exists. It works while the vault is locked, for
// status displays: a pending rekey is resumed after the next Unlock with
// ResumeRekey. A journal whose presence cannot be determined counts as
// pending.
func (v *Vault) RekeyPending() bool {
	_, err := os.Lstat(v.journalPath())
	return !errors.Is(err, fs.ErrNotExist)
}

// BeginRekey starts rotating the vault to newPassphrase under a fresh salt.
// The vault must be unlocked, oldPassphrase must open vault.check
// (ErrWrongPassphrase otherwise, and nothing changes) and no rekey may be
// pending (ErrRekeyPending). newPassphrase may equal the old one, which
// rotates only the salt.
//
// It writes the journal (RekeyFile) atomically: the new check value, and the
// new key sealed under the old one and the old key sealed under the new one.
// From then on either passphrase unlocks the vault and recovers both keys, so
// a crash at any later point loses nothing. Then the vault switches to
// sealing under the new key, keeps the old key (and the old passphrase's
// HMAC states, for envelopes under other salts) to open what it sealed, and
// derives keys for other salts from the new passphrase too. The caller keeps
// ownership of both passphrases and should clear them.
func (v *Vault) BeginRekey(oldPassphrase, newPassphrase []byte) (*Rekey, error) {
	if len(newPassphrase) == 0 {
		return nil, errors.New("begin vault rekey: empty new passphrase")
	}
	v.rekeyMu.Lock()
	defer v.rekeyMu.Unlock()
	if v.RekeyPending() {
		return nil, fmt.Errorf("begin vault rekey: %w", ErrRekeyPending)
	}
	var (
		kr     *keyring
		p2     *prf
		k2     *Key
		record []byte
	)
	err := v.withKeys(func(cur *keyring) error {
		if cur.old != nil {
			return ErrRekeyPending
		}
		if err := v.checkPassphrase(cur, oldPassphrase); err != nil {
			return err
		}
		var err error
		if p2, k2, err = v.freshKey(newPassphrase); err != nil {
			return err
		}
		j := &journal{}
		if j.check, err = k2.seal([]byte(checkPlaintext)); err == nil {
			if j.newKeys, err = sealKeys(cur.current, k2, p2); err == nil {
				j.oldKeys, err = sealKeys(k2, cur.current, cur.prf)
			}
		}
		if err != nil {
			return err
		}
		kr, record = cur, j.encode()
		return nil
	})
	if err == nil {
		err = createExclusive(v.journalPath(), record)
		if errors.Is(err, ErrExists) {
			err = ErrRekeyPending
		}
	}
	if err != nil {
		p2.destroy()
		k2.Destroy()
		if errors.Is(err, ErrWrongPassphrase) {
			return nil, err
		}
		return nil, fmt.Errorf("begin vault rekey: %w", err)
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	if v.kr != kr {
		// Locked (auto-lock) while the keys were derived. The journal is
		// on disk, so the rekey is begun all the same: the next Unlock
		// resumes it.
		p2.destroy()
		k2.Destroy()
		return nil, fmt.Errorf("begin vault rekey: %w (the rekey is pending and resumes after Unlock)", ErrLocked)
	}
	kr.old = &retired{prf: kr.prf, key: kr.current}
	kr.prf, kr.current = p2, k2
	v.log.Info("vault rekey begun", "dir", v.dir)
	return &Rekey{v: v, salt: k2.salt}, nil
}

// checkPassphrase verifies passphrase against vault.check, which must still
// carry the salt the vault unlocked with. The caller holds the read lock.
func (v *Vault) checkPassphrase(cur *keyring, passphrase []byte) error {
	e, err := v.readCheck()
	if err != nil {
		return err
	}
	if e.salt != cur.current.salt {
		return fmt.Errorf("%s no longer holds the salt this vault unlocked with; lock and unlock again: %w",
			CheckFile, ErrCorrupted)
	}
	p, err := newPRF(passphrase)
	if err != nil {
		return err
	}
	defer p.destroy()
	k, err := v.derive(p, e.salt)
	if err != nil {
		return err
	}
	defer k.Destroy()
	return v.verifyCheck(k, e, CheckFile)
}

// freshKey derives the key for passphrase under a new random salt.
func (v *Vault) freshKey(passphrase []byte) (*prf, *Key, error) {
	var salt [saltLen]byte
	if _, err := io.ReadFull(rand.Reader, salt[:]); err != nil {
		return nil, nil, fmt.Errorf("read random salt: %w", err)
	}
	p, err := newPRF(passphrase)
	if err != nil {
		return nil, nil, err
	}
	k, err := v.derive(p, salt)
	if err != nil {
		p.destroy()
		return nil, nil, err
	}
	return p, k, nil
}

// ResumeRekey returns the pending rekey of a vault unlocked while its
// journal existed, so that the caller can re-seal what is left and Finish.
// It returns ErrLocked while locked and ErrNoRekey if none is pending.
func (v *Vault) ResumeRekey() (*Rekey, error) {
	v.rekeyMu.Lock()
	defer v.rekeyMu.Unlock()
	j, err := v.readJournal()
	if err != nil {
		return nil, fmt.Errorf("resume vault rekey: %w", err)
	}
	if j == nil {
		return nil, fmt.Errorf("resume vault rekey: %w", ErrNoRekey)
	}
	if err := v.rekeyUnlocked(j.check.salt); err != nil {
		return nil, fmt.Errorf("resume vault rekey: %w", err)
	}
	return &Rekey{v: v, salt: j.check.salt}, nil
}

// rekeyUnlocked checks that the vault is unlocked with the keys of the
// pending rekey to salt.
func (v *Vault) rekeyUnlocked(salt [saltLen]byte) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	switch {
	case v.kr == nil:
		return ErrLocked
	case v.kr.old == nil || v.kr.current.salt != salt:
		// Only another process (or another Vault on this directory) can
		// have written the journal since this one unlocked.
		return errors.New("the rekey journal changed since the vault was unlocked; lock and unlock again")
	}
	return nil
}

// Finish completes the rekey once everything has been re-sealed: it replaces
// vault.check with the new check value atomically (rename, directory fsync),
// then removes the journal (and fsyncs the directory again). From then on
// only the new passphrase unlocks, and the vault drops the old key and HMAC
// states. A crash between the two steps is harmless: the journal still
// recovers both keys, and Finish after the next Unlock and ResumeRekey
// completes it. Finish returns ErrLocked while the vault is locked; calling
// it again after it succeeded returns nil.
func (r *Rekey) Finish() error {
	v := r.v
	v.rekeyMu.Lock()
	defer v.rekeyMu.Unlock()
	j, err := v.readJournal()
	if err != nil {
		return fmt.Errorf("finish vault rekey: %w", err)
	}
	if j == nil {
		if e, err := v.readCheck(); err == nil && e.salt == r.salt {
			v.retireRekey(r.salt) // finished, perhaps by another process
			return nil
		}
		return fmt.Errorf("finish vault rekey: %w", ErrNoRekey)
	}
	if j.check.salt != r.salt {
		return errors.New("finish vault rekey: the pending rekey is another one")
	}
	if err := v.rekeyUnlocked(r.salt); err != nil {
		return fmt.Errorf("finish vault rekey: %w", err)
	}
	if err := v.replaceCheck(j); err != nil {
		return fmt.Errorf("finish vault rekey: %w", err)
	}
	if err := v.removeJournal(); err != nil {
		return fmt.Errorf("finish vault rekey: %w", err)
	}
	v.retireRekey(r.salt)
	v.log.Info("vault rekey finished", "dir", v.dir)
	return nil
}

// retireRekey drops the old key and HMAC states if the vault is unlocked
// with the keys of the rekey to salt.
func (v *Vault) retireRekey(salt [saltLen]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if kr := v.kr; kr != nil && kr.old != nil && kr.current.salt == salt {
		kr.retire()
	}
}

// replaceCheck makes the journal's check value vault.check: Finish's first
// step, after which only the journal still knows the old salt.
func (v *Vault) replaceCheck(j *journal) error {
	return writeAtomic(filepath.Join(v.dir, CheckFile), j.check.fileForm())
}

// removeJournal is Finish's second step.
func (v *Vault) removeJournal() error {
	if err := os.Remove(v.journalPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return durable.SyncDir(v.dir)
}

// NeedsReseal reports whether sealed (any of the three forms) is sealed
// under another key than the one the vault now seals with: during a rekey,
// whether it still has to be re-sealed; before Finish, a last pass over
// everything should find nothing. It only reads the salt, so it does not
// authenticate sealed. It returns ErrLocked while locked and ErrCorrupted if
// sealed is not an envelope.
func (v *Vault) NeedsReseal(sealed []byte) (bool, error) {
	e, err := parseAny(sealed)
	if err != nil {
		return false, err
	}
	var stale bool
	err = v.withKeys(func(kr *keyring) error {
		stale = e.salt != kr.current.salt
		return nil
	})
	return stale, err
}
