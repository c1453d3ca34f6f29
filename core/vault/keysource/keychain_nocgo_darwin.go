//go:build darwin && !cgo

package keysource

import (
	"errors"
	"fmt"

	"github.com/zalando/go-keyring"
)

// securityCLI reaches the Keychain through /usr/bin/security (go-keyring's
// darwin backend), for builds without cgo. It cannot set the accessibility
// class or a label, and the passphrase passes through Go strings it cannot
// wipe; the cgo build is the one to ship.
type securityCLI struct{}

func newKeychainBackend() keychainBackend { return securityCLI{} }

func (securityCLI) get(account string) ([]byte, error) {
	v, err := keyring.Get(Service, account)
	if err != nil {
		return nil, mapKeyringError(err)
	}
	return []byte(v), nil
}

func (securityCLI) set(account, _ string, passphrase []byte) error {
	return mapKeyringError(keyring.Set(Service, account, string(passphrase)))
}

func (securityCLI) delete(account string) error {
	return mapKeyringError(keyring.Delete(Service, account))
}

// mapKeyringError turns go-keyring's not-found into ErrNotFound and a failed
// run of /usr/bin/security (missing, locked keychain, no UI, refused) into
// ErrUnavailable. Oversized data is a caller error and stays as it is.
func mapKeyringError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
