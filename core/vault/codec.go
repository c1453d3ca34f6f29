package vault

import (
	"bytes"
	"errors"
	"fmt"
)

// SealFile seals plaintext under k in file form ("NYXENC1\n" + object), with a
// fresh random IV.
func SealFile(k *Key, plaintext []byte) ([]byte, error) {
	e, err := k.seal(plaintext)
	if err != nil {
		return nil, err
	}
	return e.fileForm(), nil
}

// SealLine seals plaintext under k in line form ("NXLN:" + base64url). The
// result never contains '\n'.
func SealLine(k *Key, plaintext []byte) ([]byte, error) {
	e, err := k.seal(plaintext)
	if err != nil {
		return nil, err
	}
	return e.lineForm(), nil
}

// SealInline seals plaintext under k in inline form ("NYXENC1:" + object).
func SealInline(k *Key, plaintext []byte) ([]byte, error) {
	e, err := k.seal(plaintext)
	if err != nil {
		return nil, err
	}
	return e.inlineForm(), nil
}

// OpenFile opens a file-form envelope (or GenosOS's bare vault.enc object)
// with passphrase, deriving the key for the envelope's salt. That costs one
// full PBKDF2 per call; this is for one-off reads such as importing from
// GenosOS. A Vault caches keys instead.
func OpenFile(passphrase, data []byte) ([]byte, error) {
	e, err := parseFile(data)
	if err != nil {
		return nil, err
	}
	return openWith(passphrase, e)
}

// OpenLine opens a line-form envelope with passphrase; see OpenFile.
func OpenLine(passphrase, line []byte) ([]byte, error) {
	e, err := parseLine(line)
	if err != nil {
		return nil, err
	}
	return openWith(passphrase, e)
}

// OpenInline opens an inline-form envelope with passphrase; see OpenFile.
func OpenInline(passphrase, value []byte) ([]byte, error) {
	e, err := parseInline(value)
	if err != nil {
		return nil, err
	}
	return openWith(passphrase, e)
}

func openWith(passphrase []byte, e *envelope) ([]byte, error) {
	k, err := DeriveKey(passphrase, e.salt[:])
	if err != nil {
		return nil, err
	}
	defer k.Destroy()
	pt, err := k.open(e)
	if errors.Is(err, ErrAuthFailed) {
		return nil, fmt.Errorf("%w: wrong passphrase or altered data", ErrAuthFailed)
	}
	return pt, err
}

// IsSealed reports whether data looks like NYXENC1 in any of the three forms
// (or GenosOS's bare vault.enc object), without validating it. It tells a
// sealed file from a plaintext one, e.g. when migrating a state directory.
func IsSealed(data []byte) bool {
	switch {
	case bytes.HasPrefix(data, []byte(fileMagic)),
		bytes.HasPrefix(data, []byte(linePrefix)),
		bytes.HasPrefix(data, []byte(inlinePrefix)):
		return true
	}
	t := bytes.TrimLeft(data, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return false
	}
	// A plaintext JSON file is not an envelope just because it is an object:
	// only one with exactly the envelope's fields is.
	_, err := parseJSON(t)
	return err == nil
}
