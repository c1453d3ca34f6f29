//go:build darwin && cgo

package keysource

import (
	"errors"
	"fmt"

	"github.com/keybase/go-keychain"
)

// secKeychain reaches the Keychain through Security.framework. Items are
// generic passwords, accessible only while the device is unlocked, never
// synchronised. Biometry gating needs SecAccessControl, which go-keychain
// v0.0.1 lacks (see the package doc).
type secKeychain struct{}

func newKeychainBackend() keychainBackend { return secKeychain{} }

func (secKeychain) query(account string) keychain.Item {
	q := keychain.NewItem()
	q.SetSecClass(keychain.SecClassGenericPassword)
	q.SetService(Service)
	q.SetAccount(account)
	return q
}

func (k secKeychain) get(account string) ([]byte, error) {
	q := k.query(account)
	q.SetMatchLimit(keychain.MatchLimitOne)
	q.SetReturnData(true)
	res, err := keychain.QueryItem(q)
	if err != nil {
		return nil, mapKeychainError(err)
	}
	if len(res) == 0 {
		return nil, ErrNotFound
	}
	return res[0].Data, nil
}

// set adds the item or, when it exists, replaces its data and label in place,
// so a failure never leaves the user with no item at all.
func (k secKeychain) set(account, label string, passphrase []byte) error {
	item := k.query(account)
	item.SetLabel(label)
	item.SetData(passphrase)
	item.SetSynchronizable(keychain.SynchronizableNo)
	item.SetAccessible(keychain.AccessibleWhenUnlockedThisDeviceOnly)
	err := keychain.AddItem(item)
	if errors.Is(err, keychain.ErrorDuplicateItem) {
		update := keychain.NewItem()
		update.SetLabel(label)
		update.SetData(passphrase)
		err = keychain.UpdateItem(k.query(account), update)
	}
	return mapKeychainError(err)
}

func (k secKeychain) delete(account string) error {
	return mapKeychainError(keychain.DeleteItem(k.query(account)))
}

// mapKeychainError sorts Security.framework status codes into ErrNotFound,
// ErrUnavailable (no keychain, locked, no UI to ask, user said no) or other.
func mapKeychainError(err error) error {
	if err == nil {
		return nil
	}
	var ke keychain.Error
	if errors.As(err, &ke) {
		switch ke {
		case keychain.ErrorItemNotFound:
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		case keychain.ErrorUserCanceled, keychain.ErrorAuthFailed, keychain.ErrorInteractionNotAllowed,
			keychain.ErrorNotAvailable, keychain.ErrorNoSuchKeychain, keychain.ErrorInvalidKeychain:
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return err
}
