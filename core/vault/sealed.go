package vault

import (
	"bytes"
	"errors"
	"fmt"
	"os"
)

// withKeys runs fn with the keyring while holding the read lock, so Lock
// cannot zero a key under it, and counts the call as use for auto-lock.
func (v *Vault) withKeys(fn func(kr *keyring) error) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.kr == nil {
		return ErrLocked
	}
	v.Touch()
	return fn(v.kr)
}

// seal seals plaintext under the current key and encodes it with form.
func (v *Vault) seal(plaintext []byte, form func(*envelope) []byte) ([]byte, error) {
	var out []byte
	err := v.withKeys(func(kr *keyring) error {
		e, err := kr.current.seal(plaintext)
		if err != nil {
			return err
		}
		out = form(e)
		return nil
	})
	return out, err
}

// open parses b with parse and opens it with the key for its salt.
func (v *Vault) open(b []byte, parse func([]byte) (*envelope, error)) ([]byte, error) {
	var pt []byte
	err := v.withKeys(func(kr *keyring) error {
		e, err := parse(b)
		if err != nil {
			return err
		}
		pt, err = v.openEnvelope(kr, e)
		return err
	})
	return pt, err
}

// openEnvelope opens e with the cached key for its salt, deriving (and
// caching) it first if this salt has not been seen since Unlock. The caller
// holds the read lock.
func (v *Vault) openEnvelope(kr *keyring, e *envelope) ([]byte, error) {
	if k := kr.cached(e.salt); k != nil {
		pt, err := k.open(e)
		return pt, authError(kr, e, err)
	}
	prfs := kr.prfs()
	var err error
	for _, p := range prfs {
		k, derr := v.derive(p, e.salt)
		if derr != nil {
			return nil, derr
		}
		var pt []byte
		pt, err = k.open(e)
		// With one passphrase the key is right even if the tag fails, so it
		// is cached: re-reading a damaged file costs no PBKDF2. With two,
		// only the key that opened is known to belong to this salt.
		if err == nil || len(prfs) == 1 {
			if _, kept := kr.store(k); !kept {
				k.Destroy()
			}
		} else {
			k.Destroy()
		}
		if err == nil {
			return pt, nil
		}
	}
	return nil, authError(kr, e, err)
}

// authError explains a failed tag. The passphrase is known good (it opened
// vault.check), so under the vault's own salt a failed tag means damaged or
// altered data. Under another salt the data may also come from another
// passphrase.
func authError(kr *keyring, e *envelope, err error) error {
	if !errors.Is(err, ErrAuthFailed) {
		return err
	}
	if kr.ownSalt(e.salt) {
		return fmt.Errorf("%w: %w: data altered or damaged", ErrCorrupted, ErrAuthFailed)
	}
	return fmt.Errorf("%w: %w: data altered or sealed with another passphrase", ErrCorrupted, ErrAuthFailed)
}

// SealFile seals plaintext in file form under the vault's current key.
func (v *Vault) SealFile(plaintext []byte) ([]byte, error) {
	return v.seal(plaintext, (*envelope).fileForm)
}

// OpenFile opens a file-form envelope (or GenosOS's bare vault.enc object).
func (v *Vault) OpenFile(data []byte) ([]byte, error) { return v.open(data, parseFile) }

// SealLine seals plaintext in line form; the result never contains '\n'.
func (v *Vault) SealLine(plaintext []byte) ([]byte, error) {
	return v.seal(plaintext, (*envelope).lineForm)
}

// OpenLine opens a line-form envelope.
func (v *Vault) OpenLine(line []byte) ([]byte, error) { return v.open(line, parseLine) }

// SealInline seals plaintext in inline form, for one SQLite column.
func (v *Vault) SealInline(plaintext []byte) ([]byte, error) {
	return v.seal(plaintext, (*envelope).inlineForm)
}

// OpenInline opens an inline-form envelope.
func (v *Vault) OpenInline(value []byte) ([]byte, error) { return v.open(value, parseInline) }

// parseAny parses an envelope in whichever form its prefix names (file form,
// or GenosOS's bare object, by default).
func parseAny(b []byte) (*envelope, error) {
	switch {
	case bytes.HasPrefix(b, []byte(linePrefix)):
		return parseLine(b)
	case bytes.HasPrefix(b, []byte(inlinePrefix)):
		return parseInline(b)
	}
	return parseFile(b)
}

// WriteFile seals plaintext in file form and replaces path with it
// atomically: a temp file (0600) in the same directory is written and fsynced,
// renamed over path, and the directory fsynced. A crash leaves either the old
// file or the new one, never a mix and never plaintext.
func (v *Vault) WriteFile(path string, plaintext []byte) error {
	sealed, err := v.SealFile(plaintext)
	if err != nil {
		return fmt.Errorf("write sealed file %s: %w", path, err)
	}
	if err := writeAtomic(path, sealed); err != nil {
		return fmt.Errorf("write sealed file %s: %w", path, err)
	}
	return nil
}

// ReadFile reads and opens a sealed file. Errors name the path; a damaged
// file gives an ErrCorrupted error and no data.
func (v *Vault) ReadFile(path string) ([]byte, error) {
	if v.Locked() {
		return nil, fmt.Errorf("read sealed file %s: %w", path, ErrLocked)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read sealed file: %w", err)
	}
	pt, err := v.OpenFile(data)
	if err != nil {
		return nil, fmt.Errorf("read sealed file %s: %w", path, err)
	}
	return pt, nil
}
