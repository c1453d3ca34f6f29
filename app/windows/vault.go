package windows

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/genos-project/genos/core/api"
)

// UnlockClient is what the unlock window needs from the gateway client.
type UnlockClient interface {
	VaultUnlock(ctx context.Context, p api.VaultUnlockParams) (api.VaultStatus, error)
}

// VaultSetupClient is what onboarding needs to create the vault.
type VaultSetupClient interface {
	VaultStatus(ctx context.Context) (api.VaultStatus, error)
	VaultCreate(ctx context.Context, p api.VaultUnlockParams) (api.VaultStatus, error)
}

// Passphrase rules for a new vault. The maximum only stops a runaway paste;
// PBKDF2 takes any length.
const (
	minPassphraseLen = 8
	maxPassphraseLen = 1024
)

// validateNewPassphrase reports every problem with a new passphrase and its
// confirmation, each as a sentence for the user, joined; nil means it can be
// used. The passphrase is taken exactly as typed: trimming would make a
// passphrase that ends in a space impossible to type again.
func validateNewPassphrase(pass, confirm string) error {
	var errs []error
	bad := func(msg string) { errs = append(errs, errors.New(msg)) }
	n := utf8.RuneCountInString(pass)
	switch {
	case strings.TrimSpace(pass) == "":
		bad("Choose a passphrase.")
	case n < minPassphraseLen:
		bad(fmt.Sprintf("Use at least %d characters for the passphrase.", minPassphraseLen))
	case len(pass) > maxPassphraseLen:
		bad("The passphrase is too long.")
	case strings.IndexFunc(pass, unicode.IsControl) >= 0:
		bad("The passphrase cannot contain line breaks or tabs.")
	}
	if strings.TrimSpace(pass) != "" && pass != confirm {
		bad("The two passphrases do not match.")
	}
	return errors.Join(errs...)
}

// Strength levels of passphraseStrength.
const (
	strengthNone = iota
	strengthTooShort
	strengthFair
	strengthGood
	strengthStrong
)

// passphraseStrength rates a passphrase by its length only: a length is
// something the user can act on, and guessing at word lists would pretend
// to a precision a hint cannot have.
func passphraseStrength(pass string) (level int, hint string) {
	switch n := utf8.RuneCountInString(pass); {
	case n == 0:
		return strengthNone, fmt.Sprintf("At least %d characters. A few unrelated words are easy to remember and hard to guess.", minPassphraseLen)
	case n < minPassphraseLen:
		more := minPassphraseLen - n
		return strengthTooShort, fmt.Sprintf("Too short: %d more character%s needed.", more, plural(more))
	case n < 12:
		return strengthFair, "Fair. A longer passphrase is much harder to guess."
	case n < 20:
		return strengthGood, "Good."
	default:
		return strengthStrong, "Strong."
	}
}

// rememberLabel and rememberHint describe the "remember" option where the
// daemon keeps the passphrase: the macOS Keychain or the Secret Service
// keyring (GNOME Keyring, KWallet).
func rememberLabel() string {
	if runtime.GOOS == "darwin" {
		return "Remember on this Mac"
	}
	return "Remember on this computer"
}

func rememberHint() string {
	if runtime.GOOS == "darwin" {
		return "Keeps the passphrase in your Keychain, so Genos unlocks by itself when you log in."
	}
	return "Keeps the passphrase in your login keyring, so Genos unlocks by itself when you log in."
}

// isWrongPassphrase reports whether err is the daemon refusing a
// passphrase, as opposed to a failure to ask it.
func isWrongPassphrase(err error) bool {
	var shape *api.ErrorShape
	if !errors.As(err, &shape) || shape.Code != api.CodeInvalidRequest {
		return false
	}
	msg := strings.ToLower(shape.Message)
	return strings.Contains(msg, "wrong") || strings.Contains(msg, "incorrect")
}
