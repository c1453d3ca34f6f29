package vault

import (
	"errors"
	"fmt"
)

// unlockRekey unlocks a vault whose rekey journal j exists, with either
// passphrase, and returns a keyring in the state BeginRekey leaves: sealing
// under the new key, with the old key and HMAC states kept. check is
// vault.check: the old check value, or the new one if Finish stopped after
// replacing it.
//
// The passphrase is tried as the one vault.check belongs to first, since
// that check is conclusive; then as the other one. A wrong passphrase costs
// two PBKDF2 runs, a right one one.
func (v *Vault) unlockRekey(passphrase []byte, check *envelope, j *journal) (*keyring, error) {
	oldSalt, newSalt := j.newKeys.salt, j.check.salt
	if check.salt != oldSalt && check.salt != newSalt {
		return nil, v.journalCorrupt("its salts are not those of %s", CheckFile)
	}
	tries := []func([]byte, *envelope, *journal) (*keyring, error){v.unlockOld, v.unlockNew}
	if check.salt == newSalt {
		tries[0], tries[1] = tries[1], tries[0]
	}
	for _, try := range tries {
		kr, err := try(passphrase, check, j)
		if !errors.Is(err, ErrWrongPassphrase) {
			return kr, err
		}
	}
	return nil, ErrWrongPassphrase
}

// newRekeyKeyring returns an empty keyring for a pending rekey, filled in by
// unlockOld or unlockNew.
func newRekeyKeyring() *keyring {
	return &keyring{old: &retired{}, others: map[[saltLen]byte]*Key{}}
}

// unlockOld tries passphrase as the old one: its key for the old salt opens
// the record holding the new key and HMAC states.
func (v *Vault) unlockOld(passphrase []byte, check *envelope, j *journal) (_ *keyring, err error) {
	kr := newRekeyKeyring()
	defer func() {
		if err != nil {
			kr.destroy()
		}
	}()
	if kr.old.prf, err = newPRF(passphrase); err != nil {
		return nil, fmt.Errorf("unlock vault: %w", err)
	}
	if kr.old.key, err = v.derive(kr.old.prf, j.newKeys.salt); err != nil {
		return nil, fmt.Errorf("unlock vault: %w", err)
	}
	checked := check.salt == kr.old.key.salt
	if checked {
		if err := v.verifyCheck(kr.old.key, check, CheckFile); err != nil {
			return nil, err
		}
	}
	kr.current, kr.prf, err = openKeys(kr.old.key, j.newKeys)
	switch {
	case errors.Is(err, ErrAuthFailed) && !checked:
		// vault.check is already the new one, so the sealed record is the
		// only thing the old passphrase can be checked against.
		return nil, ErrWrongPassphrase
	case errors.Is(err, ErrAuthFailed):
		return nil, v.journalCorrupt("the new key does not open with the old passphrase")
	case err != nil:
		return nil, fmt.Errorf("vault rekey journal %s: %w", v.journalPath(), err)
	}
	return kr, v.verifyRekeyKeyring(kr, check, j)
}

// unlockNew tries passphrase as the new one: its key for the new salt opens
// the journal's check value and the record holding the old key and HMAC
// states.
func (v *Vault) unlockNew(passphrase []byte, check *envelope, j *journal) (_ *keyring, err error) {
	kr := newRekeyKeyring()
	defer func() {
		if err != nil {
			kr.destroy()
		}
	}()
	if kr.prf, err = newPRF(passphrase); err != nil {
		return nil, fmt.Errorf("unlock vault: %w", err)
	}
	if kr.current, err = v.derive(kr.prf, j.check.salt); err != nil {
		return nil, fmt.Errorf("unlock vault: %w", err)
	}
	if err := v.verifyCheck(kr.current, j.check, RekeyFile); err != nil {
		return nil, err
	}
	kr.old.key, kr.old.prf, err = openKeys(kr.current, j.oldKeys)
	switch {
	case errors.Is(err, ErrAuthFailed):
		return nil, v.journalCorrupt("the old key does not open with the new passphrase")
	case err != nil:
		return nil, fmt.Errorf("vault rekey journal %s: %w", v.journalPath(), err)
	}
	return kr, v.verifyRekeyKeyring(kr, check, j)
}

// verifyRekeyKeyring checks that the keys recovered through the journal fit
// it and vault.check, so that a journal that does not belong to this vault
// is reported instead of sealing data under a key no passphrase derives.
func (v *Vault) verifyRekeyKeyring(kr *keyring, check *envelope, j *journal) error {
	if kr.current.salt != j.check.salt || kr.old.key.salt != j.newKeys.salt {
		return v.journalCorrupt("its keys do not carry its salts")
	}
	if err := v.verifyCheck(kr.current, j.check, RekeyFile); err != nil {
		if errors.Is(err, ErrWrongPassphrase) {
			return v.journalCorrupt("its check value does not open with its new key")
		}
		return err
	}
	if err := v.verifyCheck(kr.cached(check.salt), check, CheckFile); err != nil {
		if errors.Is(err, ErrWrongPassphrase) {
			return v.journalCorrupt("%s does not open with its keys", CheckFile)
		}
		return err
	}
	return nil
}
