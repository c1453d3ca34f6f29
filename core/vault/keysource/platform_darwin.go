package keysource

import (
	"context"
	"fmt"
	"time"
)

// Platform returns the operating system's secret store for the vault of
// stateDir: the Secret Service (GNOME Keyring, KWallet, KeePassXC) over the
// D-Bus session bus on Linux, FreeBSD, NetBSD and OpenBSD, the Keychain on macOS (as here), and
// a Store that always reports ErrUnavailable elsewhere. An unusable stateDir
// is reported by every call.
func Platform(stateDir string) Store {
	account, err := Account(stateDir)
	if err != nil {
		return failed{name: NameKeychain, err: fmt.Errorf("%s: %w", NameKeychain, err)}
	}
	return &keychainStore{account: account, label: label(stateDir), b: newKeychainBackend(), timeout: promptTimeout}
}

// keychainBackend is the blocking Keychain access, implemented once with cgo
// (Security.framework) and once without (/usr/bin/security). Errors wrap
// ErrNotFound or ErrUnavailable where they mean that.
type keychainBackend interface {
	get(account string) ([]byte, error)
	set(account, label string, passphrase []byte) error
	delete(account string) error
}

// keychainStore bounds every backend call: the Keychain may show a dialog and
// its calls cannot be cancelled.
type keychainStore struct {
	account string
	label   string
	b       keychainBackend
	timeout time.Duration
}

func (k *keychainStore) Name() string { return NameKeychain }

func (k *keychainStore) Get(ctx context.Context) ([]byte, error) {
	p, err := k.bounded(ctx, func() ([]byte, error) { return k.b.get(k.account) })
	if err != nil {
		return nil, fmt.Errorf("%s get: %w", NameKeychain, err)
	}
	if len(p) == 0 {
		return nil, fmt.Errorf("%s get: item holds an empty secret: %w", NameKeychain, ErrNotFound)
	}
	if err := checkPassphrase(NameKeychain+" get", p); err != nil {
		wipe(p)
		return nil, err
	}
	return p, nil
}

func (k *keychainStore) Set(ctx context.Context, passphrase []byte) error {
	if err := checkPassphrase(NameKeychain+" set", passphrase); err != nil {
		return err
	}
	// The backend may outlive this call; it gets its own copy, wiped when done.
	p := append([]byte(nil), passphrase...)
	_, err := k.bounded(ctx, func() ([]byte, error) {
		defer wipe(p)
		return nil, k.b.set(k.account, k.label, p)
	})
	if err != nil {
		return fmt.Errorf("%s set: %w", NameKeychain, err)
	}
	return nil
}

func (k *keychainStore) Delete(ctx context.Context) error {
	_, err := k.bounded(ctx, func() ([]byte, error) { return nil, k.b.delete(k.account) })
	if err != nil {
		return fmt.Errorf("%s delete: %w", NameKeychain, err)
	}
	return nil
}

// bounded runs f in a goroutine and waits for it, the caller's context or the
// timeout. An abandoned f runs to completion and its result is wiped.
func (k *keychainStore) bounded(ctx context.Context, f func() ([]byte, error)) ([]byte, error) {
	type result struct {
		p   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := f()
		done <- result{p, err}
	}()
	tctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	select {
	case r := <-done:
		return r.p, r.err
	case <-tctx.Done():
		go func() { wipe((<-done).p) }()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: no answer within %s", ErrUnavailable, k.timeout)
	}
}
