package daemon

import (
	"errors"
	"fmt"

	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/paths"
)

// SaveSetup writes a model setup to the state dir without a running daemon
// (genos setup on a headless machine). It validates before writing anything.
func SaveSetup(stateDir string, s Setup) error {
	if err := paths.Ensure(stateDir); err != nil {
		return err
	}
	path := paths.ConfigFile(stateDir)
	cfg, err := config.Load(path)
	if errors.Is(err, config.ErrNoConfig) {
		cfg = config.Default()
	} else if err != nil {
		return err
	}
	applySetup(cfg, s)
	if err := cfg.Validate(); err != nil {
		return err
	}
	if s.APIKey != "" {
		secrets, err := config.OpenSecrets(paths.SecretsFile(stateDir))
		if err != nil {
			return err
		}
		if err := secrets.Set(apiKeyRef, s.APIKey); err != nil {
			return fmt.Errorf("save API key: %w", err)
		}
	}
	return config.Save(path, cfg)
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
