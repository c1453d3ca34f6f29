package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/genos-project/genos/core/durable"
	"github.com/genos-project/genos/core/vault"
)

// Sealer seals whole files at rest; *vault.Vault implements it. A nil Sealer
// means no vault exists yet and files are plaintext.
type Sealer interface {
	SealFile(plaintext []byte) ([]byte, error)
	OpenFile(data []byte) ([]byte, error)
}

// ErrSealed is wrapped when a sealed file is read without a vault to open
// it (for example by a command that runs without the daemon).
var ErrSealed = errors.New("file is sealed by the vault")

// LoadSealed is Load for a config that may be sealed: with s set, a sealed
// file is opened through it (vault.ErrLocked passes through) and a plaintext
// file, left from before the vault existed, is still read.
func LoadSealed(path string, s Sealer) (*Config, error) {
	data, err := readLimited(path, maxFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load config %s: %w", path, ErrNoConfig)
	}
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	if data, err = unseal(path, data, s); err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	c, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// SaveSealed is Save through s (nil writes plaintext). The plaintext never
// touches the disk: it is sealed in memory and written atomically.
func SaveSealed(path string, c *Config, s Sealer) error {
	if c == nil {
		return errors.New("save config: nil config")
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("save config %s: %w", path, err)
	}
	data, err := encode(c)
	if err != nil {
		return fmt.Errorf("save config %s: %w", path, err)
	}
	if s != nil {
		if data, err = s.SealFile(data); err != nil {
			return fmt.Errorf("save config %s: %w", path, err)
		}
	}
	if err := durable.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	return nil
}

// unseal opens data read from path when it is sealed.
func unseal(path string, data []byte, s Sealer) ([]byte, error) {
	if !vault.IsSealed(data) {
		return data, nil
	}
	if s == nil {
		return nil, fmt.Errorf("%s: %w; unlock the vault (genos vault unlock) and let the running gateway read it", path, ErrSealed)
	}
	plain, err := s.OpenFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return plain, nil
}

// Boot is the part of the config a locked daemon needs before the vault can
// be opened: where to listen. It is mirrored in plaintext (paths.BootFile)
// whenever the sealed config is saved, and holds nothing the user said.
type Boot struct {
	Bind string `json:"bind"`
	Port int    `json:"port"`
}

// BootOf returns the boot settings of c.
func BootOf(c *Config) Boot { return Boot{Bind: c.Gateway.Bind, Port: c.Gateway.Port} }

// WriteBoot writes b to path atomically.
func WriteBoot(path string, b Boot) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if err := durable.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save boot settings: %w", err)
	}
	return nil
}

// LoadBoot reads the boot settings at path. A missing file gives the
// defaults; a damaged one is an error naming the file, because listening on
// a guessed port would hide the problem.
func LoadBoot(path string) (Boot, error) {
	b := Boot{Bind: DefaultBind, Port: DefaultPort}
	data, err := readLimited(path, 4<<10)
	if errors.Is(err, fs.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return b, err
	}
	var got Boot
	if err := decodeStrict(data, &got, locator(data)); err != nil {
		return b, fmt.Errorf("%s: %w (delete it to use the defaults)", path, err)
	}
	c := Default()
	c.Gateway.Bind, c.Gateway.Port = got.Bind, got.Port
	if err := c.Validate(); err != nil {
		return b, fmt.Errorf("%s: %w (delete it to use the defaults)", path, err)
	}
	return got, nil
}
