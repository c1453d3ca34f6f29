package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/genos-project/genos/core/durable"
)

// maxSecretLen bounds one secret value; API keys and tokens are far shorter.
const maxSecretLen = 64 << 10

// Secrets is the pre-vault secret store: a JSON object of name -> value in a
// 0600 file (paths.SecretsFile). It holds API keys and tokens that Config
// refers to by name. It is plaintext protected only by file permissions; a
// later change moves these secrets into the encrypted vault (vault.enc) and
// this type goes away.
type Secrets struct {
	path   string
	sealer Sealer // nil: plaintext secrets.json from before the vault

	mu     sync.RWMutex
	values map[string]string
}

// OpenSecrets loads the secret store at path. A missing file is an empty
// store (created on the first Set). A file that group or others may access
// is refused, with a message telling the user to chmod 600 it, because its
// content may already have been read and must not be used silently.
func OpenSecrets(path string) (*Secrets, error) { return OpenSecretsSealed(path, nil) }

// OpenSecretsSealed opens a secret store sealed through sealer (vault.enc);
// with a nil sealer it is OpenSecrets. Every later Set seals the whole store
// again in memory before the atomic write.
func OpenSecretsSealed(path string, sealer Sealer) (*Secrets, error) {
	s := &Secrets{path: path, sealer: sealer, values: map[string]string{}}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open secrets: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secrets file %s is not a regular file", path)
	}
	// Windows has no POSIX mode bits; the user profile's ACL protects it.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secrets file %s has mode %04o, so other users can read or change it; run \"chmod 600 %s\" and consider rotating the keys in it",
			path, fi.Mode().Perm(), path)
	}
	data, err := readLimited(path, maxFileSize)
	if err != nil {
		return nil, fmt.Errorf("open secrets: %w", err)
	}
	if data, err = unseal(path, data, sealer); err != nil {
		return nil, fmt.Errorf("open secrets: %w", err)
	}
	if err := parseSecrets(data, s.values); err != nil {
		return nil, fmt.Errorf("secrets file %s: %w", path, err)
	}
	return s, nil
}

// parseSecrets strictly decodes a secrets file into values. Error messages
// name fields and lines but never values.
func parseSecrets(data []byte, values map[string]string) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil // an empty file is an empty store
	}
	loc := locator(data)
	v, err := decodeSyntax(data, loc)
	if err != nil {
		return err
	}
	raw, ok := v.(map[string]any)
	if !ok {
		return errors.New("must be a JSON object of secret name to value")
	}
	if err := checkFields(data, nil, loc); err != nil {
		return err
	}
	var problems []error
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		val := raw[name]
		str, ok := val.(string)
		switch {
		case !ValidSecretName(name):
			problems = append(problems, fmt.Errorf("invalid secret name %q", name))
		case !ok:
			problems = append(problems, fmt.Errorf("%s: expected a string, got %s", name, jsonKind(val)))
		default:
			values[name] = str
		}
	}
	return errors.Join(problems...)
}

// Path returns the file the store lives in.
func (s *Secrets) Path() string { return s.path }

// Names returns the names of every stored secret, sorted.
func (s *Secrets) Names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.values))
}

// Get returns the secret called name and whether it exists.
func (s *Secrets) Get(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.values[name]
	return v, ok
}

// Set stores value under name and writes the file atomically (mode 0600). On
// error the store is unchanged.
func (s *Secrets) Set(name, value string) error {
	if !ValidSecretName(name) {
		return fmt.Errorf("set secret: invalid name %q (1-64 letters, digits, '.', '_' or '-')", name)
	}
	if value == "" {
		return fmt.Errorf("set secret %s: empty value (use Delete to remove a secret)", name)
	}
	if len(value) > maxSecretLen {
		return fmt.Errorf("set secret %s: value is longer than %d bytes", name, maxSecretLen)
	}
	return s.update(func(m map[string]string) { m[name] = value })
}

// Delete removes the secret called name, if present, and writes the file
// atomically.
func (s *Secrets) Delete(name string) error {
	s.mu.RLock()
	_, ok := s.values[name]
	s.mu.RUnlock()
	if !ok {
		return nil
	}
	return s.update(func(m map[string]string) { delete(m, name) })
}

// update applies fn to a copy, persists it and only then makes it current.
func (s *Secrets) update(fn func(map[string]string)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := maps.Clone(s.values)
	fn(next)
	data, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return fmt.Errorf("encode secrets: %w", err)
	}
	data = append(data, '\n')
	if s.sealer != nil {
		if data, err = s.sealer.SealFile(data); err != nil {
			return fmt.Errorf("save secrets %s: %w", s.path, err)
		}
	}
	if err := durable.WriteFile(s.path, data, 0o600); err != nil {
		return fmt.Errorf("save secrets: %w", err)
	}
	s.values = next
	return nil
}

// APIKey resolves the model API key: from the environment variable
// Model.APIKeyEnv, or from the secret Model.APIKeyRef in secrets. With
// neither set it returns "" and no error, for local servers (Ollama, llama.cpp)
// that need no key. Surrounding whitespace, a common paste accident, is
// trimmed.
func (c *Config) APIKey(secrets *Secrets) (string, error) {
	m := c.Model
	switch {
	case m.APIKeyEnv != "":
		v := strings.TrimSpace(os.Getenv(m.APIKeyEnv))
		if v == "" {
			return "", fmt.Errorf("model.apiKeyEnv: environment variable %s is not set or empty", m.APIKeyEnv)
		}
		return v, nil
	case m.APIKeyRef != "":
		if secrets == nil {
			return "", fmt.Errorf("model.apiKeyRef: secret %q is configured but no secret store is open", m.APIKeyRef)
		}
		v, ok := secrets.Get(m.APIKeyRef)
		if !ok {
			return "", fmt.Errorf("model.apiKeyRef: secret %q is not in %s; store the API key under that name", m.APIKeyRef, secrets.Path())
		}
		v = strings.TrimSpace(v)
		if v == "" {
			return "", fmt.Errorf("model.apiKeyRef: secret %q is empty", m.APIKeyRef)
		}
		return v, nil
	}
	return "", nil
}
