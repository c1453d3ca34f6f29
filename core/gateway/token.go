package gateway

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
)

var tokenPattern = regexp.MustCompile(`^[0-9a-f]{48}$`)

// LoadOrCreateToken returns the gateway token stored at path, creating a new
// random one (24 bytes, hex) on first run. The token is deliberately kept
// outside the vault so that a client can reach a locked gateway to unlock it.
func LoadOrCreateToken(path string) (string, error) {
	tok, err := ReadToken(path)
	if err == nil {
		return tok, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("create gateway token: %w", err)
	}
	tok = hex.EncodeToString(b[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return ReadToken(path) // another process won the race
	}
	if err != nil {
		return "", fmt.Errorf("create gateway token: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("write gateway token: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("write gateway token: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write gateway token: %w", err)
	}
	return tok, nil
}

// ReadToken reads and validates an existing token file.
func ReadToken(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("gateway token %s is readable by other users (mode %o); run: chmod 600 %s", path, st.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read gateway token: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if !tokenPattern.MatchString(tok) {
		return "", fmt.Errorf("gateway token %s is malformed; delete it and restart Genos to create a new one", path)
	}
	return tok, nil
}

// tokenEqual compares in constant time so response timing leaks nothing.
func tokenEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
