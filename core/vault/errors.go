package vault

import (
	"errors"
	"fmt"
)

// ErrLocked is returned by every sealed read or write while the vault is
// locked. The vault never unlocks itself to serve a request: the caller must
// ask the user (or a key source) and call Unlock.
var ErrLocked = errors.New("vault is locked")

// ErrWrongPassphrase is returned by Unlock when the passphrase does not open
// the vault's check value. It is detected before any other file is read or
// written.
var ErrWrongPassphrase = errors.New("wrong vault passphrase")

// ErrCorrupted reports an envelope that is not valid NYXENC1: truncated,
// malformed, with wrong field lengths, or (for envelopes under the vault's own
// key) failing authentication. Errors about a file also name the file.
var ErrCorrupted = errors.New("corrupted NYXENC1 envelope")

// ErrAuthFailed reports an envelope whose GCM tag does not verify under the
// key derived from the given passphrase: the passphrase is wrong or the data
// was altered. No plaintext is ever returned with it.
var ErrAuthFailed = errors.New("authentication failed")

// ErrNoVault is returned by Open when the directory holds no vault (no
// vault.check), so callers can start onboarding.
var ErrNoVault = errors.New("no vault")

// ErrExists is returned by Create when the directory already holds a vault;
// creating over it would make every sealed file unreadable.
var ErrExists = errors.New("vault already exists")

// ErrRekeyPending is returned by BeginRekey while another rekey has been
// begun and not finished; continue that one with ResumeRekey.
var ErrRekeyPending = errors.New("vault rekey already in progress")

// ErrNoRekey is returned by ResumeRekey and Finish when no rekey is pending.
var ErrNoRekey = errors.New("no vault rekey in progress")

// corrupt returns an ErrCorrupted error with a reason.
func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupted, fmt.Sprintf(format, args...))
}
