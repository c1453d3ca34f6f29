package daemon

import (
	"errors"
	"fmt"

	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/paths"
	"github.com/genos-project/genos/core/vault"
)

// SaveSetup writes a model setup to the state dir without a running daemon
// (genos setup on a headless machine). It validates before writing anything.
// v is the state dir's vault, unlocked, or nil when there is none; a state
// dir with a vault refuses a nil v rather than write plaintext.
func SaveSetup(stateDir string, s Setup, v *vault.Vault) error {
	if err := paths.Ensure(stateDir); err != nil {
		return err
	}
	var sealer config.Sealer
	secretsPath := paths.SecretsFile(stateDir)
	if v != nil {
		sealer, secretsPath = v, paths.VaultSecretsFile(stateDir)
	} else if HasVault(stateDir) {
		return fmt.Errorf("save setup: this state directory has a vault: %w", vault.ErrLocked)
	}
	secrets, err := config.OpenSecretsSealed(secretsPath, sealer)
	if err != nil {
		return err
	}
	return saveSetup(stateDir, s, sealer, secrets)
}

// saveSetup validates s against the config on disk and saves config and key.
func saveSetup(stateDir string, s Setup, sealer config.Sealer, secrets *config.Secrets) error {
	return updateConfig(stateDir, sealer, func(cfg *config.Config) error {
		applySetup(cfg, s)
		if err := cfg.Validate(); err != nil {
			return err
		}
		if s.APIKey != "" {
			if err := secrets.Set(apiKeyRef, s.APIKey); err != nil {
				return fmt.Errorf("save API key: %w", err)
			}
		}
		return nil
	})
}

// updateConfig loads the state dir's config (the defaults when there is
// none), lets edit change and validate it, and saves it (sealed with
// sealer when there is one) unless edit fails.
func updateConfig(stateDir string, sealer config.Sealer, edit func(*config.Config) error) error {
	path := paths.ConfigFile(stateDir)
	cfg, err := config.LoadSealed(path, sealer)
	if errors.Is(err, config.ErrNoConfig) {
		cfg = config.Default()
	} else if err != nil {
		return err
	}
	if err := edit(cfg); err != nil {
		return err
	}
	if err := config.SaveSealed(path, cfg, sealer); err != nil {
		return err
	}
	if sealer != nil {
		return config.WriteBoot(paths.BootFile(stateDir), config.BootOf(cfg))
	}
	return nil
}

// HasVault reports whether stateDir holds a vault.
func HasVault(stateDir string) bool {
	_, err := vault.Open(stateDir, vault.Options{})
	return err == nil || !errors.Is(err, vault.ErrNoVault)
}

func applySetup(c *config.Config, s Setup) {
	c.Model.Provider = s.Provider
	c.Model.BaseURL = s.BaseURL
	c.Model.Model = s.Model
	c.Model.APIKeyEnv = ""
	c.Model.APIKeyRef = ""
	if s.APIKey != "" {
		c.Model.APIKeyRef = apiKeyRef
	}
}
