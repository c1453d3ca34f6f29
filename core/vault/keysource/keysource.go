package keysource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// ErrNotFound means the source works but holds no passphrase for this state
// directory.
var ErrNotFound = errors.New("no passphrase stored")

// ErrUnavailable means the source cannot be used on this machine or right now
// (no session bus, no Secret Service, no answer, prompt dismissed, not macOS).
var ErrUnavailable = errors.New("key source unavailable")

// Service is the service name every stored item carries.
const Service = "io.genos.app"

// MaxPassphraseLen bounds what a source returns or stores, in bytes. It keeps
// garbage from an outside store out of the KDF and keeps the item within what
// every backend accepts (/usr/bin/security caps one command at 4096 bytes).
const MaxPassphraseLen = 1024

// Names reported by Source.Name.
const (
	NameEnv           = "env"
	NameKeychain      = "keychain"
	NameSecretService = "secret-service"
	NameNone          = "none"
)

// Default bounds; see the package doc.
const (
	callTimeout   = 3 * time.Second
	promptTimeout = 2 * time.Minute
)

// Source is a place a vault passphrase can be read from.
type Source interface {
	// Name identifies the source in logs and UI ("env", "keychain",
	// "secret-service").
	Name() string
	// Get returns the passphrase in a fresh slice the caller should zero, or
	// an error wrapping ErrNotFound or ErrUnavailable.
	Get(ctx context.Context) ([]byte, error)
}

// Store is a Source that can also remember and forget the passphrase.
type Store interface {
	Source
	// Set stores passphrase, replacing any stored one. It does not keep a
	// reference to passphrase.
	Set(ctx context.Context, passphrase []byte) error
	// Delete forgets the stored passphrase; ErrNotFound when there was none.
	Delete(ctx context.Context) error
}

// Account returns the account name of the item for stateDir: "vault:" and the
// first 16 hex digits of the SHA-256 of its absolute, cleaned path.
func Account(stateDir string) (string, error) {
	if stateDir == "" {
		return "", errors.New("key source account: empty state dir")
	}
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		return "", fmt.Errorf("key source account: %w", err)
	}
	sum := sha256.Sum256([]byte(abs))
	return "vault:" + hex.EncodeToString(sum[:8]), nil
}

// label is the human-readable item label shown by Seahorse or Keychain Access.
func label(stateDir string) string {
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		abs = stateDir
	}
	return "Genos vault passphrase (" + abs + ")"
}

// checkPassphrase validates a passphrase about to be stored or just read.
func checkPassphrase(source string, p []byte) error {
	if len(p) == 0 {
		return fmt.Errorf("%s: empty passphrase", source)
	}
	if len(p) > MaxPassphraseLen {
		return fmt.Errorf("%s: passphrase longer than %d bytes", source, MaxPassphraseLen)
	}
	return nil
}

// wipe zeroes b.
func wipe(b []byte) { clear(b) }

// unavailable is a Store for platforms without a supported keyring.
type unavailable struct {
	name   string
	reason string
}

func (u unavailable) Name() string { return u.name }

func (u unavailable) Get(context.Context) ([]byte, error) {
	return nil, fmt.Errorf("%s: %w: %s", u.name, ErrUnavailable, u.reason)
}

func (u unavailable) Set(context.Context, []byte) error {
	return fmt.Errorf("%s: %w: %s", u.name, ErrUnavailable, u.reason)
}

func (u unavailable) Delete(context.Context) error {
	return fmt.Errorf("%s: %w: %s", u.name, ErrUnavailable, u.reason)
}

// failed is a Store whose every call returns err; Platform returns it when the
// state dir itself is unusable, so the error surfaces on first use.
type failed struct {
	name string
	err  error
}

func (f failed) Name() string                        { return f.name }
func (f failed) Get(context.Context) ([]byte, error) { return nil, f.err }
func (f failed) Set(context.Context, []byte) error   { return f.err }
func (f failed) Delete(context.Context) error        { return f.err }
